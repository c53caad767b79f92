package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file ends exchanges and connections: error answers, retries after
// a backend failure, the three ways a client connection ends, and what
// happens when gnet closes a connection.
//
// A client connection ends in one of three ways:
//   - closeClient, after PILB's last response: the output drains, the
//     write side is shut (FIN), and what the client still sends is read
//     and dropped until it closes too, so that a client still sending does
//     not get a reset that destroys the response on its way (nginx's
//     lingering close). Lingering ends after LingerTimeout of silence from
//     the client once the response is acknowledged, and after IdleTimeout
//     in any case.
//   - abortClient, when a response was cut (its backend died, its framing
//     broke): what is owed (earlier complete responses and the cut one's
//     bytes) drains, then the connection is reset, so that the client
//     cannot take the cut response for a complete one.
//   - resetClient, at once: the client stopped reading, or flooded PILB.

// rejectRequest answers a request PILB will not forward (a parse error, a
// timeout, CONNECT) with code and closes the client afterwards: after a
// framing error nothing that follows on the connection can be trusted.
func (l *loop) rejectRequest(cl *clientConn, code int, err error, head bool) {
	l.rejected(cl, code, err) // ops: counted, logged at warn (rate limited), access-logged (record.go)
	if !l.writeClient(cl, errorResponse(code, true, head)) {
		return
	}
	l.closeClient(cl)
}

// failExchange ends cl's exchange with PILB's own answer code, when nothing
// of the backend's response has reached the client; otherwise it cuts the
// client off, since a response cannot be half replaced. The backend
// connection, if any, is closed: its state is unknown.
func (l *loop) failExchange(cl *clientConn, code int, err error, src errorSource) {
	l.exchangeFailed(cl, code, err, src) // ops: status recorded, logged at warn (rate limited) (record.go)
	cl.releaseOut()
	l.dropBackend(cl)
	if cl.respStarted {
		l.abortClient(cl)
		return
	}
	// An HTTP/1.0 client is not told keep-alive by PILB's own answers:
	// they end its connection.
	closeAfter := !cl.keepAlive || !cl.reqDone || src == fromClient || cl.minor == 0 || l.srv.draining.Load()
	if !l.writeClient(cl, errorResponse(code, closeAfter, cl.isHEAD)) {
		return
	}
	if closeAfter {
		l.closeClient(cl)
		return
	}
	l.nextRequest(cl)
}

// abortExchange ends an exchange whose response is partly sent and cannot
// be finished (a malformed chunk, a backend gone quiet).
func (l *loop) abortExchange(be *backendConn, err error) {
	if l.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		l.srv.log.Debug("response aborted", "backend", be.b.ID, "err", err)
	}
	if cl := be.cl; cl != nil {
		l.abortClient(cl) // drops be too
		return
	}
	l.closeBackend(be)
}

// closeClient closes a client after PILB's last response (see above).
func (l *loop) closeClient(cl *clientConn) {
	switch cl.phase {
	case cpClosing, cpLinger, cpAborting, cpClosed:
		return
	}
	l.endRequest(cl) // ops: the request's record closes (record.go)
	cl.releaseOut()
	cl.stash.release() // nothing more is served: what waits is dropped
	l.dropBackend(cl)
	cl.setPhase(cpClosing)
	l.wheel.set(&cl.tm, 0)
	cl.drainSince = 0
	if cl.sock.st == sockOff && !cl.sock.eof {
		// Lingering reads the client: it goes back on the loop first, and
		// its OnOpen goes on with the close.
		l.reopenClient(cl)
		return
	}
	l.closing(cl)
}

// closing moves a closing client on: once its output is in the kernel,
// its write side is shut. It reports whether the client still waits on
// its output (and is watched).
func (l *loop) closing(cl *clientConn) bool {
	switch cl.sock.st {
	case sockDialing, sockReopening:
		return false // OnOpen goes on
	}
	if cl.sock.out() > 0 {
		l.watchClient(cl)
		return true
	}
	if cl.sock.eof {
		l.endClient(cl, false) // input has ended: nothing to linger for
		return false
	}
	cl.setPhase(cpLinger)
	cl.phaseEnd = l.now + int64(l.cfg.IdleTimeout)
	l.lingerOn(cl)
	if cl.sock.shutWrite() != nil {
		l.resetClient(cl, nil)
	}
	return false
}

// lingerOn gives a lingering client LingerTimeout more, up to phaseEnd.
func (l *loop) lingerOn(cl *clientConn) {
	l.wheel.set(&cl.tm, min(l.now+int64(l.cfg.LingerTimeout), cl.phaseEnd))
}

// lingerTimeout ends a lingering close, unless the client has not yet
// acknowledged all of its response: a reset now could destroy what is on
// its way.
func (l *loop) lingerTimeout(cl *clientConn) {
	if l.now < cl.phaseEnd && cl.sock.unsent() > 0 {
		l.lingerOn(cl)
		return
	}
	l.endClient(cl, false)
}

// abortClient cuts a client off whose response cannot be completed (see
// above). Its backend connection, if any, is closed.
func (l *loop) abortClient(cl *clientConn) {
	switch cl.phase {
	case cpAborting, cpClosed:
		return
	}
	l.endRequest(cl) // ops: the request's record closes, cut (record.go)
	cl.releaseOut()
	cl.stash.release()
	l.dropBackend(cl)
	cl.setPhase(cpAborting)
	l.wheel.set(&cl.tm, 0)
	cl.drainSince = 0
	l.aborting(cl)
}

// aborting resets an aborting client once what it is owed has left PILB
// and been acknowledged (a reset discards the kernel's unsent bytes). It
// reports whether the client is still waited on (and watched).
func (l *loop) aborting(cl *clientConn) bool {
	switch cl.sock.st {
	case sockDialing, sockReopening:
		return false // OnOpen goes on
	}
	if cl.sock.out() > 0 || cl.sock.unsent() > 0 {
		l.watchClient(cl)
		return true
	}
	l.resetClient(cl, nil)
	return false
}

// resetClient closes a client at once with a reset, and its backend
// connection with it.
func (l *loop) resetClient(cl *clientConn, err error) {
	if cl.phase == cpClosed {
		return
	}
	if err != nil && l.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		l.srv.log.Debug("client reset", "err", err)
	}
	l.dropBackend(cl)
	l.endClient(cl, true)
}

// endClient marks a client closed, lets go of what it holds and closes its
// socket; rst makes the close a reset.
func (l *loop) endClient(cl *clientConn, rst bool) {
	l.forgetClient(cl)
	l.shut(&cl.sock, rst)
}

// forgetClient marks a client closed and lets go of everything it holds
// but its socket.
func (l *loop) forgetClient(cl *clientConn) {
	l.unpark(cl)
	l.endRequest(cl) // ops: a request the client left closes its record (record.go)
	l.dropExchange(cl)
	if cl.phase != cpClosed {
		cl.setPhase(cpClosed)
	}
	l.wheel.set(&cl.tm, 0)
	cl.stash.release()
	cl.releaseOut()
	l.removeClient(cl)
}

// dropBackend ends the client's tie to its backend connection, if any, and
// closes that connection: whatever it was doing, its state is unknown now.
func (l *loop) dropBackend(cl *clientConn) {
	be := cl.be
	if be == nil {
		return
	}
	unbind(cl, be)
	if be.sock.st == sockDialing {
		// Nothing reached it: once connected it serves the pool, it cost
		// a handshake.
		be.sock.dropHeld()
		be.setPhase(bpIdle)
		return
	}
	l.closeBackend(be)
}

// closeBackend closes a backend connection for good, whatever its state.
func (l *loop) closeBackend(be *backendConn) {
	if be.phase == bpClosed {
		return
	}
	if be.cl != nil {
		unbind(be.cl, be)
	}
	idle := be.phase == bpIdle
	be.setPhase(bpClosed)
	l.forgetBackendConn(be, idle)
	l.shut(&be.sock, false)
}

// forgetBackendConn lets go of a closed backend connection's resources but
// its socket; idle says it may be in the idle pool.
func (l *loop) forgetBackendConn(be *backendConn, idle bool) {
	l.wheel.set(&be.tm, 0)
	if idle && be.sock.st != sockDialing {
		l.pool.Remove(be.b, be)
	}
	if l.removeBackend(be) {
		be.b.ConnClosed()
	}
}

// sockFailed handles a socket that PILB found broken itself (a direct write
// or a re-enrolment failed), as gnet's OnClose would.
func (l *loop) sockFailed(cl *clientConn, be *backendConn, err error) {
	if cl != nil {
		l.shut(&cl.sock, true)
		l.gone = append(l.gone, gone{cl: cl, err: err})
	} else {
		l.shut(&be.sock, false)
		l.gone = append(l.gone, gone{be: be, err: err})
	}
}

// onClientClose runs from OnClose for a client connection. A close PILB
// asked for itself (a pause, or the end of the connection) finds c no
// longer the socket's. Otherwise gnet closed it: the peer ended its output
// or reset, or a write failed.
func (l *loop) onClientClose(cl *clientConn, c gnet.Conn, err error) {
	if cl.sock.c != c {
		return
	}
	if isEOF(err) && l.keepHalfClosed(cl, c) {
		return
	}
	switch {
	case cl.phase == cpAborting, cl.phase == cpExchange && cl.respStarted:
		// A response is cut (the socket could not be kept): a FIN would
		// end a close-delimited body as if it were complete.
		_ = c.SetLinger(0)
	case c.OutboundBuffered() > 0:
		// gnet's close writes what the socket takes now and drops the
		// rest: a response cut so must end in a reset, not a FIN.
		if _ = c.Flush(); c.OutboundBuffered() > 0 {
			_ = c.SetLinger(0)
		}
	}
	cl.sock.c = nil
	cl.sock.setState(sockClosed)
	cl.sock.dropHeld()
	l.gone = append(l.gone, gone{cl: cl, err: err})
}

// keepHalfClosed keeps a client that ended its output (shutdown(SHUT_WR),
// or a FIN behind its last request) while a response (or, in a tunnel,
// anything more from the backend, or, closing or aborting, what is
// queued for it) is owed to it: gnet closes a connection on EOF, so the
// socket is duplicated before gnet closes it and the response is written
// to the duplicate (sock.go). What the client sent and PILB has not read
// yet (pipelined requests) stays in the stash and is served too. When
// gnet holds output the socket cannot take now, gnet's close would cut
// it: the client is not kept, and onClientClose makes the close a reset,
// so that the cut shows.
func (l *loop) keepHalfClosed(cl *clientConn, c gnet.Conn) bool {
	switch cl.phase {
	case cpTunnel:
		if cl.be == nil {
			return false
		}
		// The end of the client's output is passed on to the backend
		// (tunnelInputEnded); what the backend still sends is owed.
	case cpExchange:
		// The response is owed. Before the request is whole, the rest
		// of the body may be in what gnet read and PILB has not (a pause
		// refused while output was pending): it is served from the
		// stash. If it ends short, needInput fails the exchange: a 400,
		// or a reset once the response has started, never a FIN.
	case cpClosing, cpAborting:
		// What it is owed still drains, then the close goes on: a FIN
		// after complete responses, a reset after a cut one. gnet's
		// close would be a FIN at once, and a cut body delimited by the
		// close would look complete.
	default:
		return false // nothing owed
	}
	if cl.phase == cpExchange || cl.phase == cpTunnel {
		cl.takeInput()
	}
	if _ = c.Flush(); c.OutboundBuffered() > 0 {
		return false // onClientClose makes gnet's close a reset
	}
	fd, err := c.Dup()
	if err != nil {
		return false
	}
	cl.sock.setState(sockOff)
	cl.sock.c, cl.sock.fd, cl.sock.eof = nil, fd, true
	switch {
	case cl.phase != cpExchange, !cl.reqDone && !cl.bodyRefused:
		// The drain poll goes on: it passes a tunnel's end on
		// (tunnelInputEnded), goes on with a close, or serves the rest
		// of a body (checkClient).
		l.watchClient(cl)
	default:
		l.wheel.set(&cl.tm, 0) // the backend's deadlines run
	}
	return true
}

// clientGone tears down a client whose socket gnet closed (or PILB found
// broken): its exchange, if any, is abandoned.
func (l *loop) clientGone(cl *clientConn) {
	if cl.phase == cpClosed {
		return
	}
	l.dropBackend(cl)
	l.endClient(cl, false)
}

// onBackendClose runs from OnClose for a backend connection (see
// onClientClose).
func (l *loop) onBackendClose(be *backendConn, c gnet.Conn, err error) {
	if be.sock.c != c {
		return
	}
	be.sock.c = nil
	be.sock.setState(sockClosed)
	be.sock.dropHeld()
	l.gone = append(l.gone, gone{be: be, err: err})
}

// backendGone decides what a client gets when its backend connection
// closed under it.
func (l *loop) backendGone(be *backendConn, err error) {
	prev := be.phase
	if prev == bpClosed {
		return
	}
	be.setPhase(bpClosed)
	l.forgetBackendConn(be, prev == bpIdle)
	l.shut(&be.sock, false)
	cl := be.cl
	if cl == nil {
		return
	}
	unbind(cl, be)
	if !cl.alive() {
		return
	}
	switch {
	case prev == bpTunnel:
		l.closeClient(cl)
	case prev == bpBody && be.respBody.kind == httpparse.BodyUntilClose && isEOF(err):
		// The close is the end of this body (RFC 9112 §6.3 rule 8).
		be.b.ReportSuccess(l.now)
		l.closeClient(cl)
	case prev == bpBody:
		l.abortClient(cl)
	case !be.gotResp && l.retryable(cl, be):
		// A pooled connection the backend had closed (it restarted, or
		// its keep-alive timeout passed): its idle siblings are likely
		// dead too. Close them, so the retry dials.
		l.dropIdle(be.b)
		l.refreshPool(cl)
		l.dispatch(cl, cl.out.B)
	default:
		// A connection that took the request and closed without an
		// answer says something about the request, not the backend: no
		// ejection, and no retry of a request that may be poison.
		l.failExchange(cl, 502, ErrBackendClosed, fromBackend)
	}
}

// retryable reports whether cl's request may be sent again after be closed
// without answering. Only a connection that sat idle in the pool is the
// keep-alive race (the backend closed it as the request went out), and
// only an idempotent request may be sent twice (RFC 9112 §9.3.1); a fresh
// connection that closes on a request is the request's doing.
func (l *loop) retryable(cl *clientConn, be *backendConn) bool {
	return be.pooled && cl.retained && cl.idempot && cl.tries < maxTries
}

func isEOF(err error) bool {
	return err == nil || errors.Is(err, io.EOF)
}
