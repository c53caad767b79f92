package engine

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

const (
	// tickSlow is how often a loop checks its timeouts and pools when no
	// connection waits on a drain; timeouts are accurate to about this.
	tickSlow = 20 * time.Millisecond
	// tickFast is the tick while some connection waits for a peer's output
	// to drain (flow control, closing): gnet has no drain callback, so the
	// loop polls, and this bounds the stall per high-water round trip.
	tickFast = time.Millisecond
)

// loop is the state of one gnet event loop: its connections, its backend
// connection pool and its scratch space. Only the loop's goroutine touches
// it, except for the atomics read by its ticker goroutine.
type loop struct {
	srv *Server
	cfg *Config
	el  gnet.EventLoop

	now int64 // Unix nanoseconds, refreshed every tick: deadlines are this coarse

	req  httpparse.Request  // scratch: the request being parsed
	resp httpparse.Response // scratch: the response being parsed
	buf  []byte             // scratch: response heads

	pool       *pool.ConnPool[*backendConn]
	clients    []*clientConn
	backends   []*backendConn        // open or dialing, busy or idle
	dialing    map[*pool.Backend]int // connects under way; every backend with a conn here has a key
	watch      []watchItem
	watchSpare []watchItem

	hot      atomic.Bool // watch is not empty: tick fast
	tickTask gnet.RunnableFunc
	tickBusy atomic.Bool // a tick is queued on the loop and has not run
}

// watchItem is a connection waiting for a peer's output to drain.
type watchItem struct {
	cl *clientConn  // a closing client, or a paused one
	be *backendConn // a paused backend
}

func newLoop(s *Server, el gnet.EventLoop) *loop {
	l := &loop{
		srv:     s,
		cfg:     &s.cfg,
		el:      el,
		now:     time.Now().UnixNano(),
		pool:    pool.NewConnPool[*backendConn](s.cfg.MaxIdlePerBackend, s.cfg.BackendIdleTimeout),
		dialing: make(map[*pool.Backend]int),
	}
	lim := httpparse.Limits{MaxHeadBytes: s.cfg.MaxHeaderBytes}
	l.req.Limits = lim
	l.resp.Limits = lim
	l.tickTask = func(context.Context) error {
		l.tickBusy.Store(false)
		l.tick()
		return nil
	}
	return l
}

// runTicker queues a tick on the loop every tickSlow, or tickFast while
// connections wait on a drain, until ctx ends. OnTick is not used: gnet
// runs it on one ticker goroutine for the whole engine, not on the loops.
func (l *loop) runTicker(ctx context.Context) {
	t := time.NewTimer(tickSlow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l.tickBusy.CompareAndSwap(false, true) {
			if l.el.Execute(ctx, l.tickTask) != nil {
				return
			}
		}
		d := tickSlow
		if l.hot.Load() {
			d = tickFast
		}
		t.Reset(d)
	}
}

// tick runs on the loop: flow control, timeouts, pool upkeep, drain.
func (l *loop) tick() {
	l.now = time.Now().UnixNano()
	l.checkWatch()
	l.checkTimeouts()
	l.pool.Expired(l.now, func(_ *pool.Backend, be *backendConn) {
		be.state = bsClosed // out of the pool already
		l.closeBackend(be)
	})
	l.predial()
	if l.srv.draining.Load() {
		l.drain()
	}
}

// checkTimeouts enforces the header, idle, linger and backend deadlines.
func (l *loop) checkTimeouts() {
	now := l.now
	for i := 0; i < len(l.clients); i++ {
		cl := l.clients[i]
		if cl.deadline == 0 || now < cl.deadline {
			continue
		}
		switch cl.state {
		case csIdle:
			l.closeClient(cl) // a keep-alive client that went quiet
		case csHead:
			l.rejectRequest(cl, 408, ErrHeaderTimeout)
		case csExchange:
			if !cl.reqDone && !cl.paused && cl.c != nil {
				l.failExchange(cl, 408, ErrBodyTimeout, fromClient)
			}
		case csTunnel:
			if !cl.paused { // a paused side waits on its peer, not idle
				l.abortClient(cl)
			}
		case csClosing, csLinger:
			l.abortClient(cl)
		}
		if i < len(l.clients) && l.clients[i] != cl {
			i-- // cl was removed and another moved into its place
		}
	}
	for i := 0; i < len(l.backends); i++ {
		be := l.backends[i]
		if be.deadline == 0 || now < be.deadline || be.paused {
			continue
		}
		switch be.state {
		case bsHead:
			if be.cl != nil {
				l.failExchange(be.cl, 504, ErrBackendTimeout, fromBackend)
			}
		case bsBody:
			l.abortExchange(be, ErrBackendTimeout)
		}
		if i < len(l.backends) && l.backends[i] != be {
			i--
		}
	}
}

// predial keeps ConnsPerBackend idle connections to each available
// backend of every pool, counting the ones being dialed, and closes the
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
		if !b.Available(l.now) {
			continue
		}
		for n := l.pool.Want(b, l.cfg.ConnsPerBackend) - l.dialing[b]; n > 0; n-- {
			l.dial(b)
		}
	}
}

// dropIdle closes every idle pooled connection to b.
func (l *loop) dropIdle(b *pool.Backend) {
	l.pool.Drop(b, func(be *backendConn) {
		be.state = bsClosed
		l.closeBackend(be)
	})
}

// drain closes idle clients and stops keep-alive for busy ones; Shutdown
// waits for the client count to reach zero.
func (l *loop) drain() {
	for i := 0; i < len(l.clients); i++ {
		cl := l.clients[i]
		cl.keepAlive = false
		if cl.state == csIdle && (cl.c == nil || cl.c.InboundBuffered() == 0) && len(cl.stash) == 0 {
			l.closeClient(cl)
			if i < len(l.clients) && l.clients[i] != cl {
				i--
			}
		}
	}
}

// addClient and removeClient keep l.clients, for timeouts and drain.
func (l *loop) addClient(cl *clientConn) {
	l.clients = addListed(l.clients, cl)
	l.srv.clients.Add(1)
}

func (l *loop) removeClient(cl *clientConn) {
	var ok bool
	if l.clients, ok = removeListed(l.clients, cl); ok {
		l.srv.clients.Add(-1)
	}
}

// addBackend and removeBackend keep l.backends, for timeouts.
func (l *loop) addBackend(be *backendConn) { l.backends = addListed(l.backends, be) }

func (l *loop) removeBackend(be *backendConn) { l.backends, _ = removeListed(l.backends, be) }

// listed is a connection that knows its index in its loop's list, so that
// it leaves the list in O(1).
type listed interface {
	comparable
	index() *int
}

func (cl *clientConn) index() *int  { return &cl.idx }
func (be *backendConn) index() *int { return &be.idx }

func addListed[T listed](list []T, x T) []T {
	*x.index() = len(list)
	return append(list, x)
}

// removeListed swaps x out of list; ok is false when x is not in it.
func removeListed[T listed](list []T, x T) (_ []T, ok bool) {
	i := *x.index()
	if i < 0 || i >= len(list) || list[i] != x {
		return list, false
	}
	last := len(list) - 1
	list[i] = list[last]
	*list[i].index() = i
	var zero T
	list[last] = zero
	*x.index() = -1
	return list[:last], true
}

// dial starts a connect to b without blocking the loop: a goroutine dials
// with ConnectTimeout and enrolls the socket on this loop, whose OnOpen
// then finds the backendConn in the connection's context. A failure comes
// back to the loop through Execute.
func (l *loop) dial(b *pool.Backend) *backendConn {
	be := &backendConn{l: l, b: b, state: bsDialing, pausedFD: -1}
	b.ConnOpened()
	l.dialing[b]++
	l.addBackend(be)
	timeout := l.cfg.ConnectTimeout
	go func() {
		d := net.Dialer{Timeout: timeout}
		nc, err := d.Dial("tcp", b.Addr)
		if err == nil {
			err = l.enroll(be, nc)
		}
		if err != nil {
			_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
				l.dialFailed(be, err)
				return nil
			}))
		}
	}()
	return be
}

// enroll hands nc to this loop with ctx as its gnet context and waits for
// the registration; it runs off the loop.
func (l *loop) enroll(ctx any, nc net.Conn) error {
	ch, err := l.el.Enroll(gnet.NewContext(context.Background(), ctx), nc)
	if err != nil {
		_ = nc.Close()
		return err
	}
	if res := <-ch; res.Err != nil {
		return res.Err
	}
	return nil
}

// backendOpened runs on the loop when a dialed (or resumed) connection is
// registered.
func (l *loop) backendOpened(be *backendConn, c gnet.Conn) gnet.Action {
	be.c = c
	if be.resuming {
		be.resuming = false
		if be.abandoned || be.cl == nil {
			return gnet.Close
		}
		if len(be.pending) > 0 {
			p := be.pending
			be.pending = nil
			_, _ = c.Write(p)
		}
		return gnet.None
	}
	l.dialing[be.b]--
	if be.abandoned || be.state == bsClosed {
		// The client left while this was dialing: keep the connection
		// if the pool wants it, it cost a handshake.
		be.abandoned = false
		be.state = bsIdle
		l.idleBackendFresh(be)
		return gnet.None
	}
	if be.cl == nil {
		l.idleBackendFresh(be) // a pre-dial
		return gnet.None
	}
	if len(be.pending) > 0 {
		p := be.pending
		be.pending = nil // written once: a dial is rare, keep no buffer
		if _, err := c.Write(p); err != nil {
			return gnet.None // closed, and the exchange handed on
		}
	}
	return gnet.None
}

// idleBackendFresh pools a new connection that no request waits for.
func (l *loop) idleBackendFresh(be *backendConn) {
	be.pending = be.pending[:0]
	if l.srv.draining.Load() {
		l.closeBackend(be)
		return
	}
	l.idleBackend(be)
}

// idleBackend puts a connection that finished a response back in the pool.
func (l *loop) idleBackend(be *backendConn) {
	be.state = bsIdle
	be.deadline = 0
	be.reused = be.reused || be.gotResp
	if !l.pool.Put(be.b, be, l.now) {
		l.closeBackend(be)
	}
}

// dialFailed runs on the loop when a connect (or its enrolment) failed.
func (l *loop) dialFailed(be *backendConn, err error) {
	l.dialing[be.b]--
	l.removeBackend(be)
	be.b.ConnClosed()
	if localExhaustion(err) {
		// Out of descriptors or memory here: not the backend's fault,
		// and ejecting it would only spread the failure.
		l.srv.log.Warn("backend connect failed for lack of local resources", "backend", be.b.ID, "err", err)
	} else if d := be.b.ReportFailure(l.now); d > 0 {
		l.srv.log.Warn("backend connect failed, ejected", "backend", be.b.ID, "addr", be.b.Addr, "for", d, "err", err)
	}
	be.state = bsClosed
	cl := be.cl
	if cl == nil {
		return
	}
	unbind(cl, be)
	be.b.Release()
	if cl.state == csClosed {
		return
	}
	// Nothing reached the backend, and everything of the request handed
	// to it so far waits in be.pending: a retry is safe whatever the
	// method and however much of the body has streamed.
	if cl.tries < maxTries {
		l.dispatch(cl, be.pending)
		be.pending = nil
		return
	}
	l.failExchange(cl, 502, ErrConnect, fromBackend)
}

// closeBackend closes be whatever its state; OnClose does the rest.
func (l *loop) closeBackend(be *backendConn) {
	switch {
	case be.c != nil:
		_ = l.el.Close(be.c)
	case be.state == bsDialing || be.resuming:
		be.abandoned = true
	case be.paused:
		l.closePaused(be)
	}
}

// closePaused closes a backend connection detached by a pause.
func (l *loop) closePaused(be *backendConn) {
	be.paused = false
	_ = unix.Close(be.pausedFD)
	be.pausedFD = -1
	be.state = bsClosed
	l.removeBackend(be)
	be.b.ConnClosed()
}

// localExhaustion reports whether err is this process or host running out
// of descriptors, ports or memory, rather than the peer failing.
func localExhaustion(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EADDRNOTAVAIL)
}
