package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// An accept path PILB owns, for restarts that lose nothing.
//
// gnet binds its own listeners, one SO_REUSEPORT socket per loop, and
// cannot stop one without stopping the engine; a second process on the
// same port joins the reuseport group, and the connections the kernel
// queued on the first one's sockets are reset when it closes them. So with
// Config.Listener, PILB accepts on a listening socket it is given, in one
// goroutine, and hands each connection to a loop with Engine.Register
// (gnet's Enroll, round robin over the loops). That socket can be passed
// to another process (cmd/pilb does, on SIGUSR2): both then accept from
// one queue, and the old process stops accepting by closing its
// descriptor, which leaves the socket, and every connection queued on it,
// to the new one. Nothing is reset, nothing is accepted only to be closed.
//
// gnet still needs an address of its own to run: a unix socket in a
// private directory, removed as soon as the engine runs, so that nothing
// can connect to it. Its first tick (OnTick, on gnet's ticker goroutine,
// which starts once every loop is registered) starts the accept loop:
// Engine.Register may not be called before the loops are registered.
//
// A handed-over connection pays for gnet's enrolment: a task on gnet's
// worker pool, a dup(2) of the descriptor, a wake-up of the loop. The cost
// per accept, against gnet's own accept, is in listener_bench_test.go and
// the README.

const (
	// maxPendingEnrols bounds the enrolments the accept loop keeps track
	// of before it waits for the oldest: beyond that the loops are behind,
	// and accepting faster would only queue more on gnet's worker pool.
	// Each pending enrolment holds one of that pool's goroutines, which
	// the pool then keeps idle for 10 s: the bound is also that of the
	// goroutines (and stacks, 8 KiB each) a burst of connections leaves
	// behind. 64 of them span more than one turn of a busy loop.
	maxPendingEnrols = 64

	// acceptBackoffMax caps the wait after an accept error (out of
	// descriptors, say), as net/http does.
	acceptBackoffMax = time.Second

	// stopWait bounds how long StopAccepting waits for enrolments under
	// way to reach their loop.
	stopWait = 5 * time.Second
)

// acceptedMark is the gnet context of a connection the accept loop
// enrolled, until OnOpen replaces it with the client's state.
type acceptMark struct{}

var acceptedMark = &acceptMark{}

// acceptor is the state of the accept loop.
type acceptor struct {
	ln       *net.TCPListener
	dir      string        // gnet's private directory
	ready    chan struct{} // closed by the first OnTick: the loops are registered
	started  chan struct{} // closed when the accept loop runs
	done     chan struct{} // closed when the accept loop has returned and its enrolments are settled
	stopOnce sync.Once
	readyOne sync.Once
	regMu    sync.Mutex                     // serializes Engine.Register
	pending  []<-chan gnet.RegisteredResult // enrolments not yet settled, oldest first
}

// checkListener validates Config.Listener.
func checkListener(ln net.Listener) error {
	if ln == nil {
		return nil
	}
	if _, ok := ln.(*net.TCPListener); !ok {
		return fmt.Errorf("%w: listener is a %T, want a *net.TCPListener", ErrConfig, ln)
	}
	return nil
}

// gnetAddr returns the address gnet is to listen on, and whether gnet is
// to run its ticker: Config.Addr, or in listener mode a unix socket in a
// new private directory (an abstract one, should no directory be
// available), with the ticker. cleanup removes what it created.
func (s *Server) gnetAddr() (addr string, ticker bool, cleanup func()) {
	if s.cfg.Listener == nil {
		return "tcp://" + s.addr, false, func() {}
	}
	a := &s.ops.acceptor
	a.ln = s.cfg.Listener.(*net.TCPListener)
	a.ready = make(chan struct{})
	a.started = make(chan struct{})
	a.done = make(chan struct{})
	dir, err := os.MkdirTemp("", "pilb-gnet-")
	if err != nil {
		return fmt.Sprintf("unix://@pilb-gnet-%d-%p", os.Getpid(), s), true, func() {}
	}
	a.dir = dir
	return "unix://" + filepath.Join(dir, "gnet.sock"), true, func() { _ = os.RemoveAll(dir) }
}

// OnTick runs on gnet's ticker goroutine, which gnet runs only in listener
// mode (see gnetAddr): its first call starts the accept loop, and it is
// not needed again.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	a := &s.ops.acceptor
	a.readyOne.Do(func() {
		if a.dir != "" {
			_ = os.RemoveAll(a.dir) // gnet's socket: nothing is to connect to it
		}
		close(a.ready)
		go s.acceptLoop()
	})
	return time.Hour, gnet.None
}

// Accepting returns a channel closed once the server accepts connections:
// in listener mode, when its accept loop runs; otherwise once it listens.
// It is never closed when Serve fails.
func (s *Server) Accepting() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		// The acceptor is set up before gnet boots (gnetAddr), and
		// booted is closed after, or when Serve fails.
		<-s.booted
		started := s.booted
		if s.cfg.Listener != nil {
			started = s.ops.acceptor.started
		}
		select {
		case <-started:
			if s.serveErr == nil {
				close(ch)
			}
		case <-s.stopped:
		}
	}()
	return ch
}

// acceptLoop accepts on the listener and hands connections to the loops,
// until the listener is closed (StopAccepting).
func (s *Server) acceptLoop() {
	a := &s.ops.acceptor
	defer close(a.done)
	defer s.settleEnrols(stopWait)
	s.kickOnce.Do(func() { go s.kickLoops() }) // pre-dial before the first client
	close(a.started)
	var backoff time.Duration
	for {
		nc, err := a.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, or the like: wait and try again, as
			// net/http does, rather than spin or stop.
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if s.clients.Load() >= int64(s.cfg.MaxClientConns) {
			s.ops.refused.Add(1)
			_ = nc.Close()
			continue
		}
		s.enrol(nc)
	}
}

// enrol hands an accepted connection to a loop. gnet's enrolment panics
// in its worker pool for a connection without a remote address, and the
// pool swallows the panic (see loop.enroll in sock.go): such a connection
// (its peer already gone) is closed here instead.
func (s *Server) enrol(nc *net.TCPConn) {
	if ra, ok := nc.RemoteAddr().(*net.TCPAddr); !ok || ra == nil {
		_ = nc.Close()
		return
	}
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), acceptedMark), nc)
	ch, err := s.register(ctx)
	if err != nil {
		_ = nc.Close()
		return
	}
	a := &s.ops.acceptor
	a.pending = append(a.pending, ch)
	s.retireEnrols(len(a.pending) >= maxPendingEnrols)
}

// register calls Engine.Register, one caller at a time: gnet's round
// robin over the loops is a plain counter (its own accept path calls it
// from one goroutine), and the accept loop and kickLoops both register.
func (s *Server) register(ctx context.Context) (<-chan gnet.RegisteredResult, error) {
	s.ops.acceptor.regMu.Lock()
	defer s.ops.acceptor.regMu.Unlock()
	return s.eng.Register(ctx)
}

// retireEnrols drops the settled enrolments at the front of the pending
// list; with wait, it first waits for the oldest. gnet closes the
// connection of an enrolment that fails.
func (s *Server) retireEnrols(wait bool) {
	a := &s.ops.acceptor
	if wait && len(a.pending) > 0 {
		<-a.pending[0]
	}
	i := 0
	for i < len(a.pending) && settled(a.pending[i]) {
		i++
	}
	if i > 0 {
		n := copy(a.pending, a.pending[i:])
		clear(a.pending[n:])
		a.pending = a.pending[:n]
	}
}

// settled reports whether an enrolment has its result (or has closed
// without one: gnet's worker recovered a panic).
func settled(ch <-chan gnet.RegisteredResult) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// settleEnrols waits, at most d, for every enrolment under way to reach
// its loop: once StopAccepting returns, every connection accepted is the
// loops' (served, or counted as a client to drain).
func (s *Server) settleEnrols(d time.Duration) {
	a := &s.ops.acceptor
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range a.pending {
		select {
		case <-ch:
		case <-t.C:
			s.log.Warn("connections still being handed to the loops after the accept loop stopped", "pending", len(a.pending))
			return
		}
	}
	a.pending = nil
}

// StopAccepting stops the accept loop (listener mode; otherwise it does
// nothing) and waits until every connection it accepted has reached a
// loop. The listener is closed: when another process holds a copy of its
// socket (a restart), that process goes on accepting from the same queue,
// and nothing queued is lost. Shutdown calls it first.
func (s *Server) StopAccepting() {
	if s.cfg.Listener == nil {
		return
	}
	select {
	case <-s.booted: // the acceptor is set up
	case <-time.After(stopWait):
		return // Serve was not called
	}
	a := &s.ops.acceptor
	a.stopOnce.Do(func() {
		_ = a.ln.Close()
		select {
		case <-a.started:
			<-a.done
		case <-s.stopped:
		case <-time.After(stopWait):
			// The engine never ticked: nothing was accepted.
		}
		s.log.Info("stopped accepting", "addr", s.addr)
	})
}

// drainIdle gives a client that is idle while PILB drains
// Config.DrainIdleGrace to send its next request, which is answered with
// Connection: close, before it is closed; it reports false when there is
// no grace (the client is to be closed now). Closing an idle keep-alive
// connection races with a request the client may be sending on it, which
// a client that does not retry (wrk, many scripts) counts as a failure;
// a client that sends its next request soon is told to close instead.
func (l *loop) drainIdle(cl *clientConn) bool {
	g := l.cfg.DrainIdleGrace
	if g <= 0 {
		return false
	}
	when := l.now + int64(g)
	if cl.tm.when != 0 && cl.tm.when < when {
		when = cl.tm.when
	}
	l.wheel.set(&cl.tm, when)
	return true
}
