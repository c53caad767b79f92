package engine

import (
	"context"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Flow control.
//
// gnet has no pause-read: a connection registered on a loop is read
// whenever it is readable, and what OnTraffic does not consume is buffered
// without limit. So when a peer does not keep up (its pending output is
// past Config.HighWater), PILB takes the fast side off the loop entirely:
//
//  1. the socket is duplicated (Conn.Dup) and the gnet connection closed
//     from its own OnTraffic; gnet removes the fd from epoll and closes it,
//     while the duplicate keeps the TCP connection open. Nothing is read,
//     the kernel's receive buffer fills, and TCP flow control pushes back
//     on the sender. OnClose sees the connection marked paused and keeps
//     its state.
//  2. the loop's ticker polls the slow peer's pending output (gnet has no
//     drain callback either); below a quarter of HighWater the duplicate is
//     wrapped in a net.Conn off the loop and enrolled on the same loop
//     again (EventLoop.Enroll). OnOpen finds the connection's state in the
//     context and reading goes on where it stopped.
//
// A connection is only detached with no output of its own pending (gnet's
// close could cut it short) and with all its input consumed or stashed, so
// no byte is lost. A pause costs a dozen syscalls; it happens once per
// HighWater of data held back, and never on the fast path. A client that
// reads none of its waiting output for IdleTimeout is cut off
// (drainStalled), so a pause never lasts for ever.

// detaching reports, from OnClose, that the close is a pause, and drops
// the dead gnet connection.
func (cl *clientConn) detaching() bool {
	if cl.paused && cl.c != nil {
		cl.c = nil
		return true
	}
	return false
}

func (be *backendConn) detaching() bool {
	if be.paused && be.c != nil {
		be.c = nil
		return true
	}
	return false
}

// input returns the client's unconsumed bytes, the stash kept across a
// pause first. Valid until consume or the end of the callback.
func (cl *clientConn) input() []byte {
	if len(cl.stash) == 0 {
		b, _ := cl.c.Peek(-1)
		return b
	}
	if cl.c.InboundBuffered() > 0 {
		b, _ := cl.c.Next(-1)
		cl.stash = append(cl.stash, b...)
	}
	return cl.stash
}

// consume drops the first n bytes of input; n < 0 drops all of it.
func (cl *clientConn) consume(n int) {
	if len(cl.stash) == 0 {
		if cl.c != nil {
			discard(cl.c, n)
		}
		return
	}
	if n < 0 || n >= len(cl.stash) {
		cl.stash = nil // pauses are rare: hold no memory for the next
		if n < 0 && cl.c != nil {
			discard(cl.c, -1)
		}
		return
	}
	cl.stash = cl.stash[:copy(cl.stash, cl.stash[n:])]
}

// pauseBackend detaches be from the loop, from be's own OnTraffic, which
// must then return gnet.Close. It returns false when be cannot be paused
// now (output of its own pending, input not consumed).
func (l *loop) pauseBackend(be *backendConn) bool {
	if be.c.OutboundBuffered() > 0 || be.c.InboundBuffered() > 0 {
		return false
	}
	fd, err := be.c.Dup()
	if err != nil {
		return false
	}
	be.paused = true
	be.pausedFD = fd
	if cl := be.cl; cl != nil {
		cl.drainSince = 0 // a new wait: measure its progress from now
	}
	l.addWatch(watchItem{be: be})
	return true
}

// pauseClient detaches cl from the loop, from cl's own OnTraffic, which
// must then return gnet.Close. Unconsumed input moves to the stash.
func (l *loop) pauseClient(cl *clientConn) bool {
	if cl.c.OutboundBuffered() > 0 {
		return false
	}
	fd, err := cl.c.Dup()
	if err != nil {
		return false
	}
	if cl.c.InboundBuffered() > 0 {
		b, _ := cl.c.Next(-1)
		cl.stash = append(cl.stash, b...)
	}
	cl.paused = true
	cl.pausedFD = fd
	l.addWatch(watchItem{cl: cl})
	if be := cl.be; be != nil && !cl.reqDone {
		l.armDeadlines(cl, be) // the backend is not reading: its clock runs
	}
	return true
}

// resumeBackend enrolls a paused backend connection again.
func (l *loop) resumeBackend(be *backendConn) {
	fd := be.pausedFD
	be.paused, be.pausedFD, be.resuming = false, -1, true
	go func() {
		if err := l.reenroll(be, fd); err != nil {
			_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
				be.resuming = false
				be.state = bsClosed
				l.removeBackend(be)
				be.b.ConnClosed()
				if cl := be.cl; cl != nil {
					unbind(cl, be)
					be.b.Release()
					l.abortClient(cl)
				}
				return nil
			}))
		}
	}()
}

// resumeClient enrolls a paused client connection again.
func (l *loop) resumeClient(cl *clientConn) {
	if !cl.paused {
		return
	}
	fd := cl.pausedFD
	cl.paused, cl.pausedFD, cl.resuming = false, -1, true
	go func() {
		if err := l.reenroll(cl, fd); err != nil {
			_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
				cl.resuming = false
				l.clientGone(cl)
				return nil
			}))
		}
	}()
}

// reenroll wraps a detached socket and enrolls it on the loop, with state
// as its context. It runs off the loop.
func (l *loop) reenroll(state any, fd int) error {
	f := os.NewFile(uintptr(fd), "pilb-paused")
	nc, err := net.FileConn(f) // dups fd
	_ = f.Close()
	if err != nil {
		return err
	}
	return l.enroll(state, nc)
}

// clientReopened runs from OnOpen when a paused client is back on the loop.
func (l *loop) clientReopened(cl *clientConn, c gnet.Conn) gnet.Action {
	cl.c = c
	cl.resuming = false
	if cl.closeOnOpen {
		cl.closeOnOpen = false
		return gnet.Close
	}
	if code := cl.failCode; code != 0 {
		cl.failCode = 0
		cl.keepAlive = false
		if l.writeClient(cl, errorResponse(code, true)) {
			l.closeClient(cl)
		}
		return gnet.None
	}
	if be := cl.be; be != nil && be.c != nil && be.c.InboundBuffered() > 0 {
		// A response arrived while the client was away.
		if a := l.onBackendTraffic(be); a == gnet.Close && be.c != nil {
			_ = l.el.Close(be.c)
		}
		if cl.c == nil {
			return gnet.None
		}
	}
	if len(cl.stash) > 0 && (cl.state != csExchange || !cl.reqDone) {
		return l.onClientTraffic(cl)
	}
	return gnet.None
}

// closeDetachedClient closes a client that is not on the loop: paused,
// or being enrolled again.
func (l *loop) closeDetachedClient(cl *clientConn) {
	switch {
	case cl.paused:
		_ = unix.Close(cl.pausedFD)
		cl.paused, cl.pausedFD = false, -1
		l.clientGone(cl)
	case cl.resuming:
		cl.closeOnOpen = true
	}
}

// clientGone forgets a client whose socket is closed.
func (l *loop) clientGone(cl *clientConn) {
	cl.state = csClosed
	cl.stash = nil
	cl.releaseOut()
	l.removeClient(cl)
	l.dropBackend(cl)
}

// addWatch makes the ticker poll it until its peer's output drains.
func (l *loop) addWatch(it watchItem) {
	if it.cl != nil {
		if it.cl.watched {
			return
		}
		it.cl.watched = true
	} else {
		if it.be.watched {
			return
		}
		it.be.watched = true
	}
	l.watch = append(l.watch, it)
	l.hot.Store(true)
}

// checkWatch resumes paused connections whose peer drained and lingers
// closing clients whose output drained.
func (l *loop) checkWatch() {
	items := l.watch
	l.watch = l.watchSpare[:0]
	for _, it := range items {
		if it.cl != nil {
			it.cl.watched = false
			if l.watchClient(it.cl) {
				l.addWatch(it)
			}
		} else {
			it.be.watched = false
			if l.watchBackend(it.be) {
				l.addWatch(it)
			}
		}
	}
	clear(items)
	l.watchSpare = items[:0]
	l.hot.Store(len(l.watch) > 0)
}

// watchClient acts on a watched client and reports whether to keep
// watching it.
func (l *loop) watchClient(cl *clientConn) bool {
	low := l.cfg.HighWater / 4
	switch {
	case cl.state == csClosed:
		return false
	case cl.state == csClosing:
		if cl.c == nil {
			return false
		}
		if cl.c.OutboundBuffered() == 0 {
			l.linger(cl)
			return false
		}
		if l.drainStalled(cl) {
			l.abortClient(cl)
			return false
		}
		return true
	case !cl.paused:
		return false
	case cl.be == nil, cl.state == csIdle, cl.state == csHead:
		l.resumeClient(cl)
		return false
	case cl.state == csExchange && cl.reqDone:
		return true // finishResponse resumes it
	case cl.be.output() <= low:
		l.resumeClient(cl)
		return false
	}
	return true
}

// watchBackend acts on a paused backend connection and reports whether to
// keep watching it.
func (l *loop) watchBackend(be *backendConn) bool {
	if !be.paused {
		return false
	}
	cl := be.cl
	if cl == nil || cl.state == csClosed {
		l.closePaused(be)
		return false
	}
	if cl.c != nil && cl.c.OutboundBuffered() <= l.cfg.HighWater/4 {
		l.resumeBackend(be)
		return false
	}
	if cl.c != nil && l.drainStalled(cl) {
		l.abortExchange(be, ErrClientStalled)
		return false
	}
	return true
}

// drainStalled reports whether a client with output waiting has read none
// of it for IdleTimeout: a client that stopped reading would otherwise
// hold its connection, and a paused backend connection, for ever.
func (l *loop) drainStalled(cl *clientConn) bool {
	n := cl.c.OutboundBuffered()
	if n < cl.drainLeft || cl.drainSince == 0 {
		cl.drainLeft, cl.drainSince = n, l.now
		return false
	}
	cl.drainLeft = n
	return l.now-cl.drainSince > int64(l.cfg.IdleTimeout)
}
