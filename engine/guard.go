package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// This file keeps a bug, or a peer that closes at the worst moment, from
// costing more than the connection pair it concerns.
//
// Every way into a loop (gnet's OnOpen, OnTraffic and OnClose, the tick,
// tasks queued with Execute) goes through enter and leave:
//
//   - Teardown is deferred. gnet closes a connection inside Write when the
//     write fails, and its OnClose then runs inside the writer's call stack,
//     which may be handling the peer. So OnClose only marks the connection
//     gone and queues it; the queue is handled when the outermost callback
//     leaves, once no frame of the loop holds either connection. The one
//     rule left for the code: after a write to X, check that X is alive
//     before touching X again (writeClient and writeBackend return it).
//   - The connection whose OnTraffic or OnOpen runs is closed through the
//     action that callback returns (closeGnet), never under gnet's feet.
//   - A panic is recovered where it entered, the pair it concerns is closed
//     (quarantine), the stack is logged once per call site at error and the
//     panic counted (Server.Panics). The loop, and every other connection
//     on it, goes on.

// gone is a connection that gnet closed, queued for its teardown.
type gone struct {
	cl  *clientConn
	be  *backendConn
	err error
}

// enter marks the start of a callback; cur is the gnet connection whose
// OnTraffic or OnOpen it is, or nil.
func (l *loop) enter(cur gnet.Conn) {
	if l.depth == 0 {
		l.cur, l.curClose = cur, false
	}
	l.depth++
}

// leave ends a callback entered with enter. It must be deferred directly
// (it recovers panics). cl and be name the pair the callback was about;
// action, when not nil, receives gnet.Close if the callback's own
// connection is to be closed.
func (l *loop) leave(cl *clientConn, be *backendConn, action *gnet.Action) {
	if r := recover(); r != nil {
		l.recovered(r, cl, be)
	}
	l.depth--
	if l.depth > 0 {
		return
	}
	l.runGone()
	if l.curClose && action != nil {
		*action = gnet.Close
	}
	l.cur, l.curClose = nil, false
}

// runGone tears down the connections gnet closed during the callback.
// Teardown can close more (a client's backend); they join the queue.
func (l *loop) runGone() {
	for i := 0; i < len(l.gone); i++ {
		l.teardown(l.gone[i])
	}
	clear(l.gone)
	l.gone = l.gone[:0]
}

func (l *loop) teardown(g gone) {
	cl, be := g.pair()
	defer func() {
		if r := recover(); r != nil {
			l.recovered(r, cl, be)
		}
	}()
	if g.cl != nil {
		l.clientGone(g.cl)
	} else {
		l.backendGone(g.be, g.err)
	}
}

// teardown's pair, for recovery: the connection and its peer as queued.
func (g gone) pair() (*clientConn, *backendConn) {
	if g.cl != nil {
		return g.cl, g.cl.be
	}
	return g.be.cl, g.be
}

// exec runs fn on the loop, as a callback; it is for goroutines of the
// loop's own (dials, enrolments). It reports false when the engine is
// shutting down and fn will not run.
func (l *loop) exec(fn func()) bool {
	err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.enter(nil)
		defer l.leave(nil, nil, nil)
		fn()
		return nil
	}))
	return err == nil
}

// safely runs fn for the pair of cl (or be) with its own recovery, for
// loops over many connections (the watch, the wheel), so that a panic on
// one leaves the others to be handled.
func (l *loop) safely(cl *clientConn, be *backendConn, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			l.recovered(r, cl, be)
		}
	}()
	fn()
}

// recovered handles a panic recovered on the loop: it closes the pair
// concerned (the connections the callback was entered for, as they were
// paired then, and their peers now), counts the panic and logs it.
func (l *loop) recovered(r any, cl *clientConn, be *backendConn) {
	l.srv.panics.Add(1)
	stack := debug.Stack()
	l.srv.panicLog.report(l.srv.log, r, stack)
	var peerCl *clientConn
	var peerBe *backendConn
	if be != nil && be.cl != cl {
		peerCl = be.cl
	}
	if cl != nil && cl.be != be {
		peerBe = cl.be
	}
	l.quarantine(cl, be)
	l.quarantine(peerCl, peerBe)
}

// quarantine closes connections whose state a panic left unknown, touching
// as little of them as it can; each step has its own recovery, so that one
// that fails again does not stop the others.
func (l *loop) quarantine(cl *clientConn, be *backendConn) {
	step := func(fn func()) {
		defer func() { _ = recover() }()
		fn()
	}
	if cl != nil && cl.be != nil {
		step(func() { unbind(cl, cl.be) })
	}
	if be != nil && be.cl != nil {
		step(func() { unbind(be.cl, be) })
	}
	if be != nil {
		step(func() {
			if be.phase != bpClosed {
				idle := be.phase == bpIdle
				be.phase = bpClosed
				l.forgetBackendConn(be, idle)
			}
			l.shut(&be.sock, true)
		})
	}
	if cl != nil {
		step(func() {
			if cl.phase != cpClosed {
				cl.phase = cpClosed
				l.forgetClient(cl)
			}
			l.shut(&cl.sock, true)
		})
	}
}

// panicLog logs each panic's stack once per call site, and counts the
// repeats, with a line at most once a minute per site.
type panicLog struct {
	mu    sync.Mutex
	sites map[string]*panicSite
}

type panicSite struct {
	count  int
	logged time.Time
}

// panicSite returns "function file:line" of the frame that panicked, from
// inside the deferred function that recovered it: the first frame after
// runtime.gopanic and the runtime frames that lead to it (sigpanic,
// panicmem).
func panicSiteOf() string {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	inPanic := false
	for {
		f, more := frames.Next()
		isRuntime := strings.HasPrefix(f.Function, "runtime.")
		if f.Function == "runtime.gopanic" {
			inPanic = true
		} else if inPanic && !isRuntime {
			return fmt.Sprintf("%s %s:%d", f.Function, f.File, f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

func (p *panicLog) report(log *slog.Logger, r any, stack []byte) {
	site := panicSiteOf()
	p.mu.Lock()
	if p.sites == nil {
		p.sites = make(map[string]*panicSite)
	}
	s, seen := p.sites[site]
	if !seen {
		s = &panicSite{}
		p.sites[site] = s
	}
	s.count++
	now := time.Now()
	first, again := !seen, seen && now.Sub(s.logged) > time.Minute
	if first || again {
		s.logged = now
	}
	count := s.count
	p.mu.Unlock()
	switch {
	case first:
		log.Error("recovered a panic; its connection pair is closed", "panic", fmt.Sprint(r), "site", site, "stack", string(stack))
	case again:
		log.Error("recovered a panic again; its connection pair is closed", "panic", fmt.Sprint(r), "site", site, "times", count)
	}
}
