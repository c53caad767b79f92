package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file ends exchanges and connections: error answers, retries after
// a backend failure, graceful and abrupt client closes, and the OnClose
// handlers.

// rejectRequest answers a request PILB will not forward (a parse error, a
// timeout, CONNECT) with code and closes the client afterwards: after a
// framing error nothing that follows on the connection can be trusted.
func (l *loop) rejectRequest(cl *clientConn, code int, err error) {
	if err != nil && l.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		l.srv.log.Debug("request rejected", "status", code, "source", fromClient, "err", err)
	}
	cl.keepAlive = false
	l.writeClient(cl, errorResponse(code, true))
	l.closeClient(cl)
}

// failExchange ends cl's exchange with PILB's own answer code, when nothing
// of the backend's response has reached the client; otherwise it cuts the
// client off, since a response cannot be half replaced. The backend
// connection, if any, is closed: its state is unknown.
func (l *loop) failExchange(cl *clientConn, code int, err error, src errorSource) {
	if l.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		l.srv.log.Debug("exchange failed", "status", code, "source", src, "err", err)
	}
	cl.releaseOut()
	l.dropBackend(cl)
	if cl.respStarted {
		l.abortClient(cl)
		return
	}
	if cl.c == nil && cl.state != csClosed {
		// Detached by a pause: answer once it is back on the loop.
		cl.failCode = code
		l.resumeClient(cl)
		return
	}
	closeAfter := !cl.keepAlive || !cl.reqDone || src == fromClient
	if !l.writeClient(cl, errorResponse(code, closeAfter)) {
		return
	}
	if closeAfter {
		l.closeClient(cl)
		return
	}
	cl.state = csIdle
	cl.deadline = l.now + int64(l.cfg.IdleTimeout)
	l.kickClient(cl)
}

// abortExchange ends an exchange whose response is partly sent and cannot
// be finished (a malformed chunk, a backend gone quiet): both connections
// are closed, so that the client sees a truncated response as one.
func (l *loop) abortExchange(be *backendConn, err error) {
	if l.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		l.srv.log.Debug("response aborted", "backend", be.b.ID, "err", err)
	}
	if cl := be.cl; cl != nil {
		l.abortClient(cl) // drops be too
		return
	}
	be.state = bsClosed
	l.closeBackend(be)
}

// closeClient closes a client after PILB's last response: once the output
// has drained, the write side is shut down and what the client still sends
// is read and dropped until it closes or LingerTimeout passes, so that a
// client still sending does not get a reset that destroys the response in
// its receive buffer.
func (l *loop) closeClient(cl *clientConn) {
	if cl.state == csClosing || cl.state == csLinger || cl.state == csClosed {
		return
	}
	cl.releaseOut()
	l.dropBackend(cl)
	if cl.c == nil {
		l.closeDetachedClient(cl)
		return
	}
	cl.state = csClosing
	if cl.c.OutboundBuffered() > 0 {
		// The watch closes it once the output is read, or when the
		// client stops reading (drainStalled); LingerTimeout starts after.
		cl.deadline = 0
		cl.drainSince = 0
		l.addWatch(watchItem{cl: cl})
		return
	}
	l.linger(cl)
}

// linger shuts down the write side of a drained client.
func (l *loop) linger(cl *clientConn) {
	cl.state = csLinger
	cl.deadline = l.now + int64(l.cfg.LingerTimeout)
	if err := unix.Shutdown(cl.c.Fd(), unix.SHUT_WR); err != nil {
		l.abortClient(cl)
	}
}

// abortClient closes a client at once.
func (l *loop) abortClient(cl *clientConn) {
	l.dropBackend(cl)
	if cl.c != nil {
		_ = l.el.Close(cl.c)
		return
	}
	l.closeDetachedClient(cl)
}

// onClientClose runs from OnClose for a client connection.
func (l *loop) onClientClose(cl *clientConn) {
	if cl.detaching() {
		return
	}
	cl.c = nil
	cl.state = csClosed
	cl.releaseOut()
	l.removeClient(cl)
	l.dropBackend(cl)
}

// onBackendClose runs from OnClose for a backend connection.
func (l *loop) onBackendClose(be *backendConn, err error) {
	if be.detaching() {
		return
	}
	be.c = nil
	prev := be.state
	be.state = bsClosed
	l.removeBackend(be)
	be.b.ConnClosed()
	if prev == bsIdle {
		l.pool.Remove(be.b, be)
		return
	}
	cl := be.cl
	if cl == nil {
		return
	}
	unbind(cl, be)
	be.b.Release()
	l.backendGone(cl, be, prev, err)
}

// backendGone decides what a client gets when its backend connection
// closed in state prev.
func (l *loop) backendGone(cl *clientConn, be *backendConn, prev backendState, err error) {
	switch {
	case prev == bsTunnel:
		l.closeClient(cl)
	case prev == bsBody && be.respBody.kind == httpparse.BodyUntilClose && isEOF(err):
		// The close is the end of this body (RFC 9112 §6.3 rule 8).
		be.b.ReportSuccess(l.now)
		l.closeClient(cl)
	case prev == bsBody:
		l.abortClient(cl)
	case !be.gotResp && l.retryable(cl, be):
		if be.reused {
			// A pooled connection the backend had closed: its older idle
			// siblings are likely dead too (the backend restarted, or its
			// keep-alive timeout passed). Close them, so the retry dials.
			l.dropIdle(be.b)
		} else {
			be.b.ReportFailure(l.now)
		}
		l.dispatch(cl, cl.out.B)
	default:
		if !be.reused {
			be.b.ReportFailure(l.now)
		}
		l.failExchange(cl, 502, ErrBackendClosed, fromBackend)
	}
}

// retryable reports whether cl's request may be sent again after be closed
// without answering. A request on a fresh connection may have been
// processed before the backend died, and a request on a reused one may have
// been too, unless it is idempotent: RFC 9112 §9.3.1 forbids retrying other
// methods automatically.
func (l *loop) retryable(cl *clientConn, be *backendConn) bool {
	return cl.retained && cl.tries < maxTries && cl.idempot && cl.state != csClosed
}

func isEOF(err error) bool {
	return err == nil || errors.Is(err, io.EOF)
}

// dropBackend ends the client's tie to its backend connection, if any, and
// closes that connection: whatever it was doing, its state is unknown now.
func (l *loop) dropBackend(cl *clientConn) {
	be := cl.be
	if be == nil {
		return
	}
	unbind(cl, be)
	be.b.Release()
	be.state = bsClosed
	l.closeBackend(be)
}
