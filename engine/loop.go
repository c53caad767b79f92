package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

const (
	// tickSlow is how often a loop advances its deadline wheel and tends
	// its pools; deadlines fire within about wheelTick plus this after they
	// pass. It is also the slowest drain poll (pause.go).
	tickSlow = 10 * time.Millisecond
)

// loop is the state of one gnet event loop: its connections, its backend
// connection pool and its scratch space. Only the loop's goroutine touches
// it, except for the atomics and the channel its ticker goroutine uses.
type loop struct {
	srv *Server
	cfg *Config
	el  gnet.EventLoop

	now int64 // Unix nanoseconds, refreshed every tick: deadlines are this coarse

	req  httpparse.Request  // scratch: the request being parsed
	resp httpparse.Response // scratch: the response being parsed
	buf  []byte             // scratch: response heads
	segs [][]byte           // scratch: one large write in pieces (sock.write)

	// maxHeld caps what PILB holds for one connection in any buffer
	// (unread input, output, a dial's request): see pause.go.
	maxHeld int

	pool      *pool.ConnPool[*backendConn]
	clients   []*clientConn
	backends  []*backendConn                   // open, dialing or off the loop; busy or idle
	dialing   map[*pool.Backend]int            // connects under way or queued; every backend with a conn here has a key
	dials     int                              // connects started and not finished (at most maxDials)
	dialQueue fifo[*backendConn]               // connects waiting for one of those to finish, oldest first (dial.go)
	waiting   map[*pool.Backend][]*backendConn // the same, by backend, for hand-offs
	wheel     wheel
	nextSlow  int64 // when the next slow tick is due
	drained   bool  // drain() has run since Shutdown began

	// The drain watch (pause.go).
	watch      []watchItem
	watchSpare []watchItem
	pollEvery  atomic.Int64  // drain poll period in nanoseconds; 0 while nothing is watched
	wake       chan struct{} // tells the ticker the poll period changed

	// The callback guard (guard.go).
	depth    int       // callbacks entered and not left (gnet nests OnClose in writes)
	cur      gnet.Conn // the connection whose OnTraffic or OnOpen runs
	curClose bool      // close cur when its callback returns
	gone     []gone    // connections gnet closed, to tear down on leaving
	tickTask gnet.RunnableFunc
	tickBusy atomic.Bool // a tick is queued on the loop and has not run

	parks   parkSet     // idle clients off gnet (park.go)
	spareEx []*exchange // exchanges to reuse (exchange.go)
	reopens reopenLine  // off-loop sockets going back on it (sock.go)

	ops loopOps // ops: counters, access log ring, warn budget (ops.go)
}

// watchItem is a connection waiting on a drain: one of cl and be.
type watchItem struct {
	cl *clientConn
	be *backendConn
}

func newLoop(s *Server, el gnet.EventLoop) *loop {
	l := &loop{
		srv:     s,
		cfg:     &s.cfg,
		el:      el,
		now:     time.Now().UnixNano(),
		maxHeld: 2*s.cfg.HighWater + readBufferCap,
		pool:    pool.NewConnPool[*backendConn](s.cfg.MaxIdlePerBackend, s.cfg.BackendIdleTimeout),
		dialing: make(map[*pool.Backend]int),
		waiting: make(map[*pool.Backend][]*backendConn),
		wake:    make(chan struct{}, 1),
		reopens: reopenLine{max: maxReopens},
	}
	l.wheel.init(l.now)
	lim := httpparse.Limits{MaxHeadBytes: s.cfg.MaxHeaderBytes}
	l.req.Limits = lim
	l.resp.Limits = lim
	l.tickTask = func(context.Context) error {
		l.tickBusy.Store(false)
		l.enter(nil)
		defer l.leave(nil, nil, nil)
		l.tick()
		return nil
	}
	return l
}

// runTicker queues a tick on the loop every tickSlow, or at the drain
// poll's period while connections wait on a drain, until ctx ends. OnTick
// is not used: gnet runs it on one ticker goroutine for the whole engine,
// not on the loops.
func (l *loop) runTicker(ctx context.Context) {
	t := time.NewTimer(tickSlow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if l.tickBusy.CompareAndSwap(false, true) {
				if l.el.Execute(ctx, l.tickTask) != nil {
					return
				}
			}
		case <-l.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		d := tickSlow
		if p := time.Duration(l.pollEvery.Load()); p > 0 && p < d {
			d = p
		}
		t.Reset(d)
	}
}

// tick runs on the loop: the drain poll, and every tickSlow the deadlines,
// pool upkeep and drain.
func (l *loop) tick() {
	l.now = time.Now().UnixNano()
	if len(l.watch) > 0 {
		l.pollWatch()
	}
	if l.now < l.nextSlow {
		return
	}
	l.nextSlow = l.now + int64(tickSlow)
	l.wheel.advance(l.now, l.expire)
	l.pool.Expired(l.now, func(_ *pool.Backend, be *backendConn) {
		l.safely(nil, be, func() { l.closeUnpooled(be) })
	})
	l.predial()
	if l.srv.draining.Load() && !l.drained {
		l.drained = true
		l.drain()
	}
}

// expire handles a deadline that passed.
func (l *loop) expire(t *timer) {
	if cl := t.cl; cl != nil {
		l.safely(cl, nil, func() { l.clientTimeout(cl) })
		return
	}
	be := t.be
	l.safely(nil, be, func() { l.backendTimeout(be) })
}

// clientTimeout enforces the header, idle, body, tunnel and linger
// deadlines.
func (l *loop) clientTimeout(cl *clientConn) {
	if cl.ops.queued { // ops: the queue's deadline (queue.go)
		l.queueExpired(cl)
		return
	}
	switch cl.phase {
	case cpIdle:
		if l.now < cl.phaseEnd && !l.srv.draining.Load() {
			// Quiet for ParkAfter: parked until its next request or
			// the end of its idle time.
			l.park(cl)
			l.wheel.set(&cl.tm, cl.phaseEnd)
			return
		}
		l.closeClient(cl) // a keep-alive client that went quiet
	case cpHead:
		l.rejectRequest(cl, 408, ErrHeaderTimeout, isHEADPrefix(cl.input()))
	case cpExchange:
		if !cl.reqDone {
			l.failExchange(cl, 408, ErrBodyTimeout, fromClient)
		}
	case cpTunnel:
		l.closeClient(cl)
	case cpLinger:
		l.lingerTimeout(cl)
	}
}

// backendTimeout enforces the response deadlines.
func (l *loop) backendTimeout(be *backendConn) {
	cl := be.cl
	if cl == nil {
		return
	}
	switch be.phase {
	case bpRequest:
		l.reportFailure(cl.pool, be.b, ErrBackendTimeout)
		l.failExchange(cl, 504, ErrBackendTimeout, fromBackend)
	case bpBody:
		l.abortExchange(be, ErrBackendTimeout)
	}
}

// reportFailure counts a failure of b (a connect, a response timeout)
// towards its passive ejection from p, its pool, and logs the ejection it
// may start. p is nil for a pre-dial, whose pool is looked up.
func (l *loop) reportFailure(p *pool.Pool, b *pool.Backend, err error) {
	b.NoteError(err, l.now)
	if p == nil {
		if p = l.cfg.Routes.Load().PoolOf(b); p == nil {
			return // b has left the table
		}
	}
	if d := p.ReportFailure(b, l.now); d > 0 {
		l.ejected(b, d, err) // ops: counted, logged at warn, rate limited (logs.go)
	}
}

// predial keeps ConnsPerBackend idle connections to each available
// backend of every pool (one to a backend no request used for
// BackendIdleTimeout: pool.ConnPool.Want), counting the ones being
// dialed, and closes the
// idle connections of backends that left the routing table or are
// draining: at once, and again each tick for a connection whose response
// ended since (it went back to the pool).
func (l *loop) predial() {
	table := l.cfg.Routes.Load()
	for b, n := range l.dialing {
		gone := !table.Contains(b)
		if (gone || b.Draining()) && l.pool.Idle(b) > 0 {
			l.dropIdle(b)
		}
		if gone && n == 0 && b.Conns() == 0 {
			delete(l.dialing, b) // nothing of b is left on any loop
		}
	}
	if l.cfg.ConnsPerBackend == 0 || l.srv.draining.Load() {
		return
	}
	for _, b := range table.Backends() {
		if l.dials >= maxDials {
			return // pre-dials never wait in line: the next tick goes on
		}
		if !b.Available(l.now) {
			continue
		}
		for n := min(l.pool.Want(b, l.cfg.ConnsPerBackend, l.now)-l.dialing[b], maxDials-l.dials); n > 0; n-- {
			l.dial(b)
		}
	}
}

// dropIdle closes every idle pooled connection to b.
func (l *loop) dropIdle(b *pool.Backend) {
	l.pool.Drop(b, l.closeUnpooled)
}

// closeUnpooled closes an idle connection the pool has let go of.
func (l *loop) closeUnpooled(be *backendConn) {
	be.setPhase(bpClosed)
	l.forgetBackendConn(be, false)
	l.shut(&be.sock, false)
}

// drain, once Shutdown began, closes the idle clients; busy ones close
// after their response (keep-alive is off while draining).
func (l *loop) drain() {
	for i := 0; i < len(l.clients); i++ {
		cl := l.clients[i]
		cl.keepAlive = false
		if cl.phase == cpIdle && cl.inputLen() == 0 {
			if l.drainIdle(cl) { // ops: a grace for its next request (listener.go)
				continue
			}
			l.safely(cl, nil, func() { l.closeClient(cl) })
			if i < len(l.clients) && l.clients[i] != cl {
				i-- // cl was removed and another moved into its place
			}
		}
	}
}

// addClient and removeClient keep l.clients, for drain and shutdown.
func (l *loop) addClient(cl *clientConn) {
	l.clients = addListed(l.clients, cl)
	l.srv.clients.Add(1)
}

func (l *loop) removeClient(cl *clientConn) {
	var ok bool
	if l.clients, ok = removeListed(l.clients, cl); ok {
		l.srv.clients.Add(-1)
		l.srv.closes.Add(1)
	}
}

// addBackend and removeBackend keep l.backends, for shutdown; removeBackend
// reports whether be was listed.
func (l *loop) addBackend(be *backendConn) { l.backends = addListed(l.backends, be) }

func (l *loop) removeBackend(be *backendConn) bool {
	var ok bool
	if l.backends, ok = removeListed(l.backends, be); ok {
		l.srv.closes.Add(1)
	}
	return ok
}

// listed is a connection that knows its index in its loop's list, so that
// it leaves the list in O(1).
type listed interface {
	comparable
	index() *int32
}

func (cl *clientConn) index() *int32  { return &cl.idx }
func (be *backendConn) index() *int32 { return &be.idx }

func addListed[T listed](list []T, x T) []T {
	*x.index() = int32(len(list))
	return append(list, x)
}

// removeListed swaps x out of list; ok is false when x is not in it.
func removeListed[T listed](list []T, x T) (_ []T, ok bool) {
	i := int(*x.index())
	if i < 0 || i >= len(list) || list[i] != x {
		return list, false
	}
	last := len(list) - 1
	list[i] = list[last]
	*list[i].index() = int32(i)
	var zero T
	list[last] = zero
	*x.index() = -1
	return list[:last], true
}
