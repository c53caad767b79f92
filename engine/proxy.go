package engine

import (
	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file is the hot path: a request from the client's OnTraffic to the
// backend write (serveClient, startExchange, dispatch), and the response
// from the backend's OnTraffic back to the client (serveBackend,
// startResponse, forwardResponseBody, finishResponse).
//
// A write can close the connection written to: gnet closes it inside the
// call when the write fails, and its teardown is queued (guard.go). So
// writeClient and writeBackend report whether the connection is still
// alive, and code that gets false stops touching it; the other side of the
// exchange stays intact until the callback ends.

const (
	// maxRetainedBody is the largest request body kept in clientConn.out
	// so that the request can be sent again on a pooled connection found
	// dead; longer bodies are streamed. (After a failed connect the dialing
	// connection holds all that was sent, so any request is retried.)
	maxRetainedBody = 64 << 10

	// maxTries bounds the backends (or connections) one request is sent
	// to: the first try and two retries.
	maxTries = 3

	// inlineBody is the largest body prefix copied behind a response head
	// so that both leave in one write; larger ones are written apart.
	inlineBody = 16 << 10
)

// serveClient consumes what a client sent: request heads, request bodies,
// tunnel bytes. It loops while it makes progress, since one read may hold
// several pipelined requests (each waits for the previous response: one
// request at a time upstream).
func (l *loop) serveClient(cl *clientConn) {
	if cl.busy {
		return // running further up the stack, which goes on
	}
	cl.busy = true
	l.serveClientLoop(cl)
	cl.busy = false
}

func (l *loop) serveClientLoop(cl *clientConn) {
	for cl.alive() {
		if cl.phase < cpClosing && cl.inputLen() > l.maxHeld {
			// A pause could not happen (output pending) and the client
			// kept sending: it is not reading what it asked for.
			l.resetClient(cl, ErrOverflow)
			return
		}
		switch cl.phase {
		case cpIdle, cpHead:
			buf := cl.input()
			if len(buf) == 0 {
				l.needInput(cl)
				return
			}
			if l.cfg.ProxyProtocol && !cl.ops.proxied { // ops: the PROXY protocol header comes first (clientaddr.go)
				if !l.readProxyHeader(cl, buf) {
					return
				}
				continue
			}
			if cl.phase == cpIdle {
				cl.setPhase(cpHead)
				l.wheel.set(&cl.tm, l.now+int64(l.cfg.HeaderTimeout))
			}
			r := &l.req
			r.Scanned = int(cl.scanned)
			n, err := httpparse.ParseRequest(buf, r)
			if err == httpparse.ErrNeedMore {
				cl.scanned = int32(r.Scanned)
				if cl.sock.st != sockOn {
					l.needInput(cl)
				}
				return
			}
			cl.scanned = 0
			if err != nil {
				l.rejectRequest(cl, httpparse.Status(err), err, isHEADPrefix(buf))
				continue
			}
			l.startExchange(cl, buf, n)

		case cpExchange:
			if cl.ops.queued { // ops: its request waits for a backend slot (queue.go)
				l.queuedInput(cl)
				return
			}
			if cl.reqDone {
				// Pipelined requests wait in the input until the response
				// ends; past the high-water mark the client is not read.
				if cl.inputLen() > l.cfg.HighWater {
					l.pauseClient(cl)
				}
				return
			}
			if cl.bodyRefused {
				cl.consume(-1)
				return
			}
			be := cl.be
			if be.sock.out() > l.cfg.HighWater {
				l.pauseClient(cl) // the backend is not keeping up with the body
				return
			}
			buf := cl.input()
			if len(buf) == 0 {
				l.needInput(cl)
				return
			}
			l.forwardRequestBody(cl, be, buf)

		case cpTunnel:
			be := cl.be
			if be.sock.out() > l.cfg.HighWater {
				l.pauseClient(cl)
				return
			}
			buf := cl.input()
			if len(buf) == 0 {
				l.needInput(cl)
				return
			}
			if !l.writeBackend(be, buf) {
				return
			}
			cl.consume(len(buf))
			l.countIn(cl, len(buf)) // ops: bytes received (record.go)
			l.wheel.set(&cl.tm, l.now+int64(l.cfg.TunnelTimeout))

		default: // closing, lingering, aborting: what the client still sends is dropped
			cl.consume(-1)
			if cl.phase == cpLinger {
				l.lingerOn(cl) // still sending: keep lingering
			}
			return
		}
	}
}

// startExchange takes the request head parsed into l.req from buf[:n]:
// it writes the upstream head (and as much of the body as is here, up to
// maxRetainedBody) into cl.out, consumes those bytes and dispatches.
func (l *loop) startExchange(cl *clientConn, buf []byte, n int) {
	r := &l.req
	if string(r.Method) == "CONNECT" {
		// PILB is a reverse proxy: it does not open tunnels to arbitrary
		// hosts (RFC 9110 §9.3.6).
		l.rejectRequest(cl, 501, nil, false)
		return
	}
	if l.cfg.MonitorURI != "" && l.monitor(cl, n) { // ops: answered by PILB itself (monitor.go)
		return
	}
	cl.minor = uint8(r.Minor)
	cl.isHEAD = string(r.Method) == "HEAD"
	cl.idempot = idempotent(r.Method)
	cl.keepAlive = r.KeepAlive && !l.srv.draining.Load()
	cl.upgrade = r.Upgrade
	body := &cl.x().reqBody
	body.reset(r.Body, r.ContentLength)
	cl.closeAfter = false
	cl.respStarted = false
	cl.bodyRefused = false
	cl.tries = 0
	cl.pool = l.cfg.Routes.Load().Route(r.Host, r.Target)
	if cl.out == nil {
		cl.out = outPool.Get()
	}
	cl.out.B = appendRequestHead(cl.out.B[:0], r, cl.ip, l.forwardedProto(cl, r)) // ops: kept from a trusted proxy (clientaddr.go)

	consumed := n
	cl.reqDone = body.empty()
	if rest := buf[n:]; !cl.reqDone && len(rest) > 0 {
		// The body bytes already here go up with the head, up to
		// maxRetainedBody; the rest streams from serveClient.
		k, done, err := body.take(rest[:min(len(rest), maxRetainedBody)])
		if err != nil {
			l.rejectRequest(cl, httpparse.Status(err), err, cl.isHEAD)
			return
		}
		cl.out.B = append(cl.out.B, rest[:k]...)
		consumed += k
		cl.reqDone = done
	}
	cl.retained = cl.reqDone
	l.beginRequest(cl, r, consumed) // ops: the request's record opens (record.go)
	cl.consume(consumed)
	cl.setPhase(cpExchange)
	l.dispatch(cl, cl.out.B)
}

// outPool holds the buffers of upstream request heads (and retained
// bodies): a client holds one only from its request head to the first byte
// of the response, so idle keep-alive clients hold none.
var outPool bytebufferpool.Pool

// releaseOut returns cl.out to outPool; the request can no longer be sent
// again.
func (cl *clientConn) releaseOut() {
	if cl.out != nil {
		outPool.Put(cl.out)
		cl.out = nil
	}
	cl.retained = false
}

// dispatch sends req (the request so far: cl.out, or what a failed dial
// held) to a backend picked by the balancer of the request's pool, on an
// idle pooled connection or a new one. Failures come back through
// backendGone and dialFailed, which retry or answer the client.
func (l *loop) dispatch(cl *clientConn, req []byte) {
	cl.tries++
	b, handled := l.pickOrQueue(cl) // ops: Pick and Acquire, or wait in the pool's queue (queue.go)
	if handled {
		return
	}
	if b == nil {
		if cl.tries > 1 {
			// The backends tried failed and are backed off now: the
			// cause the client should hear of is theirs.
			l.failExchange(cl, 502, ErrConnect, fromBackend)
			return
		}
		l.failExchange(cl, 503, ErrNoBackend, fromInternal)
		return
	}
	be, pooled := l.pool.Get(b)
	for pooled && (be.phase != bpIdle || be.sock.st != sockOn) {
		// Closed by gnet in this very callback, its teardown queued.
		be, pooled = l.pool.Get(b)
	}
	if !pooled {
		be = l.dial(b)
	}
	bind(cl, be)
	cl.x().rec.b = b // ops: the backend the request is recorded against
	be.pooled = pooled
	l.armDeadlines(cl, be)
	l.writeBackend(be, req)
}

// armDeadlines starts the clock that fits where the exchange is. Once the
// whole request is handed over, the backend has BackendTimeout to answer
// (and to say more, while a body streams). Before that, a client that goes
// quiet in its body has IdleTimeout; a backend that stops reading it has
// BackendTimeout from the moment the client is held back for its sake.
func (l *loop) armDeadlines(cl *clientConn, be *backendConn) {
	switch {
	case cl.reqDone, be.sock.out() > l.cfg.HighWater:
		l.wheel.set(&be.tm, l.now+int64(l.cfg.BackendTimeout))
		l.wheel.set(&cl.tm, 0)
	default:
		l.wheel.set(&be.tm, 0)
		l.wheel.set(&cl.tm, l.now+int64(l.cfg.IdleTimeout))
	}
}

// forwardRequestBody hands the body bytes at the head of buf to the
// backend and consumes them.
func (l *loop) forwardRequestBody(cl *clientConn, be *backendConn, buf []byte) {
	k, done, err := cl.x().reqBody.take(buf)
	if err != nil {
		l.failExchange(cl, httpparse.Status(err), err, fromClient)
		return
	}
	if !l.writeBackend(be, buf[:k]) || cl.be != be {
		return
	}
	cl.consume(k)
	l.countIn(cl, k) // ops: bytes received (record.go)
	cl.reqDone = done
	l.armDeadlines(cl, be)
}

// writeBackend writes p to be wherever its socket is. It returns false
// when be is gone (its teardown queued).
func (l *loop) writeBackend(be *backendConn, p []byte) bool {
	if err := be.sock.write(p, &l.segs); err != nil {
		if be.sock.st != sockClosed {
			l.sockFailed(nil, be, err)
		}
		return false
	}
	if be.sock.heldOff() {
		l.watchBackend(be)
	}
	return true
}

// writeClient writes p to the client wherever its socket is. It returns
// false when the client is gone (its teardown queued).
func (l *loop) writeClient(cl *clientConn, p []byte) bool {
	if err := cl.sock.write(p, &l.segs); err != nil {
		if cl.sock.st != sockClosed {
			l.sockFailed(cl, nil, err)
		}
		return false
	}
	l.countOut(cl, len(p)) // ops: bytes sent (record.go)
	if cl.sock.heldOff() {
		l.watchClient(cl)
	}
	return true
}

// serveBackend consumes what a backend sent: interim and final response
// heads, the body, tunnel bytes. It always consumes all it can: a
// response never waits for its client to be on the loop.
func (l *loop) serveBackend(be *backendConn) {
	for be.phase != bpClosed && be.sock.st == sockOn {
		cl := be.cl
		if cl == nil {
			// An idle pooled connection spoke out of turn (a late 408, say):
			// it can no longer be trusted to frame the next response.
			l.closeBackend(be)
			return
		}
		if !cl.alive() {
			return // its teardown, queued, closes be
		}
		buf, _ := be.sock.c.Peek(-1)
		if len(buf) == 0 {
			return
		}
		switch be.phase {
		case bpRequest:
			if !be.gotResp {
				be.gotResp = true
				cl.releaseOut() // no retry from here on
			}
			r := &l.resp
			r.Scanned = be.scanned
			n, err := httpparse.ParseResponse(buf, r, cl.isHEAD)
			if err == httpparse.ErrNeedMore {
				be.scanned = r.Scanned
				return
			}
			be.scanned = 0
			if err != nil {
				l.failExchange(cl, 502, err, fromBackend)
				return
			}
			if r.Status < 200 {
				if r.Status != 101 {
					ok := l.forwardInterim(cl, r)
					discard(be, n)
					if !ok {
						return
					}
					continue
				}
				if !cl.upgrade {
					l.failExchange(cl, 502, ErrBadResponse, fromBackend)
					return
				}
			}
			if !l.startResponse(be, cl, buf, n) {
				return
			}

		case bpBody:
			k, done, ok := l.forwardResponseBody(be, cl, buf)
			if !ok {
				return
			}
			discard(be, k)
			if done {
				l.finishResponse(be)
				return
			}
			l.afterResponseWrite(be, cl)
			return

		case bpTunnel:
			if !l.writeClient(cl, buf) {
				return
			}
			discard(be, -1)
			l.wheel.set(&cl.tm, l.now+int64(l.cfg.TunnelTimeout))
			l.afterResponseWrite(be, cl)
			return

		default:
			return
		}
	}
}

// discard drops the first n input bytes of an on-loop backend connection;
// n < 0 drops them all. gnet's Discard drops everything for n == 0 too,
// which is never what a caller that consumed nothing means.
func discard(be *backendConn, n int) {
	if n != 0 && be.sock.st == sockOn {
		_, _ = be.sock.c.Discard(n)
	}
}

// forwardInterim passes a 1xx response on to an HTTP/1.1 client; HTTP/1.0
// clients must not get one (RFC 9110 §15.2). It reports whether the
// client is still there.
func (l *loop) forwardInterim(cl *clientConn, r *httpparse.Response) bool {
	if cl.minor == 0 {
		return true
	}
	l.buf = appendInterimHead(l.buf[:0], r)
	return l.writeClient(cl, l.buf)
}

// startResponse writes the head of the final response r (parsed from
// buf[:n]) to the client, with as much of the body as fits behind it, and
// sets be up to stream the rest. It returns false when the exchange ended
// or the client is gone.
func (l *loop) startResponse(be *backendConn, cl *clientConn, buf []byte, n int) bool {
	r := &l.resp
	cl.x().rec.status = int32(r.Status) // ops: the status the client gets
	f := respFraming{upgrade: r.Status == 101}
	f.dechunk = r.Body == httpparse.BodyChunked && cl.minor == 0
	if f.dechunk && otherCodings(r) {
		// HTTP/1.0 has no transfer codings: removing chunked would hand
		// the client a gzip (or other) coded body it cannot know of.
		l.failExchange(cl, 502, ErrBadResponse, fromBackend)
		return false
	}
	// An answer before the whole request body arrived (a 413, a 401 to
	// Expect: 100-continue) ends the connection: what the client still
	// sends cannot be told from a next request (RFC 9110 §10.1.1).
	f.closeClient = !f.upgrade && (!cl.keepAlive || !cl.reqDone || r.Body == httpparse.BodyUntilClose ||
		f.dechunk || l.srv.draining.Load())
	f.keepAlive10 = cl.minor == 0 && !f.closeClient && !f.upgrade
	cl.closeAfter = f.closeClient
	if !cl.reqDone && !r.KeepAlive && !f.upgrade {
		// The backend answered before the body ended and closes after
		// its answer: it reads no more of the body, and writing it could
		// only break the connection under the answer (RFC 9112 §9.6).
		// What the client still sends is dropped; its connection ends
		// with this response.
		cl.bodyRefused = true
		l.wheel.set(&cl.tm, 0)
		cl.consume(-1)
	}

	be.respBody.reset(r.Body, r.ContentLength)
	be.respKeepAlive = r.KeepAlive
	be.dechunk = f.dechunk

	l.buf = appendResponseHead(l.buf[:0], r, f)
	if f.upgrade {
		cl.respStarted = true
		be.setPhase(bpTunnel)
		cl.setPhase(cpTunnel)
		l.wheel.set(&be.tm, 0)
		l.wheel.set(&cl.tm, l.now+int64(l.cfg.TunnelTimeout))
		rest := buf[n:]
		if len(rest) <= inlineBody {
			l.buf = append(l.buf, rest...)
			rest = nil
		}
		if !l.writeClient(cl, l.buf) || (len(rest) > 0 && !l.writeClient(cl, rest)) {
			return false
		}
		discard(be, -1)
		// Bytes the client sent behind the upgrade request belong to the
		// new protocol: hand them over now.
		l.serveClient(cl)
		return false
	}

	be.setPhase(bpBody)
	if be.respBody.empty() {
		cl.respStarted = true
		if !l.writeClient(cl, l.buf) {
			return false
		}
		discard(be, n)
		l.finishResponse(be)
		return false
	}
	// Send the head with the first body bytes in one write where they are
	// small; larger bodies go through the generic path.
	rest := buf[n:]
	if !f.dechunk && len(rest) > 0 && len(rest) <= inlineBody {
		k, done, err := be.respBody.take(rest)
		if err != nil {
			l.failExchange(cl, 502, err, fromBackend)
			return false
		}
		l.buf = append(l.buf, rest[:k]...)
		cl.respStarted = true
		if !l.writeClient(cl, l.buf) {
			return false
		}
		discard(be, n+k)
		l.wheel.set(&be.tm, l.now+int64(l.cfg.BackendTimeout))
		if done {
			l.finishResponse(be)
			return false
		}
		l.afterResponseWrite(be, cl)
		return false
	}
	cl.respStarted = true
	if !l.writeClient(cl, l.buf) {
		return false
	}
	discard(be, n)
	l.wheel.set(&be.tm, l.now+int64(l.cfg.BackendTimeout))
	return true
}

// forwardResponseBody writes the body bytes at the head of buf to the
// client: as they are, or without chunk framing for an HTTP/1.0 client.
// It returns how many bytes of buf it used, whether the body is complete,
// and ok=false when the exchange ended under it.
func (l *loop) forwardResponseBody(be *backendConn, cl *clientConn, buf []byte) (n int, done, ok bool) {
	if be.dechunk {
		for n < len(buf) && !done {
			k, data, fin, err := be.respBody.chunk.Decode(buf[n:])
			if err != nil {
				l.abortExchange(be, err)
				return 0, false, false
			}
			if len(data) > 0 && !l.writeClient(cl, data) {
				return 0, false, false
			}
			n += k
			done = fin
		}
	} else {
		k, fin, err := be.respBody.take(buf)
		if err != nil {
			l.abortExchange(be, err)
			return 0, false, false
		}
		if !l.writeClient(cl, buf[:k]) {
			return 0, false, false
		}
		n, done = k, fin
	}
	l.wheel.set(&be.tm, l.now+int64(l.cfg.BackendTimeout))
	return n, done, true
}

// afterResponseWrite stops reading the backend when the client is not
// keeping up (see pause.go).
func (l *loop) afterResponseWrite(be *backendConn, cl *clientConn) {
	if cl.sock.out() > l.cfg.HighWater {
		l.pauseBackend(be)
	}
}

// finishResponse ends an exchange whose response is complete: the backend
// connection goes back to the pool when it may be reused, and the client
// goes on with its next request or is closed.
func (l *loop) finishResponse(be *backendConn) {
	cl := be.cl
	reuse := be.respKeepAlive && cl.reqDone && be.sock.st == sockOn && be.sock.c.InboundBuffered() == 0
	unbind(cl, be)
	be.b.ReportSuccess(l.now)
	if reuse {
		l.idleBackend(be)
	} else {
		l.closeBackend(be)
	}
	if cl.closeAfter || !cl.reqDone {
		// A body the backend did not wait for is still on its way: the
		// client cannot be read for a next request.
		l.closeClient(cl)
		return
	}
	l.nextRequest(cl)
}

// nextRequest makes an exchanged client idle and reads on.
func (l *loop) nextRequest(cl *clientConn) {
	l.endRequest(cl) // ops: the request's record closes (record.go)
	l.dropExchange(cl)
	cl.setPhase(cpIdle)
	cl.phaseEnd = l.now + int64(l.cfg.IdleTimeout)
	l.idleTimer(cl)
	if l.srv.draining.Load() && cl.inputLen() == 0 {
		if l.drainIdle(cl) { // ops: a grace for its next request (listener.go)
			return
		}
		l.closeClient(cl)
		return
	}
	l.serveClient(cl)
}

// idleTimer sets an idle client's timer: it is parked after ParkAfter of
// quiet, and closed at phaseEnd (clientTimeout).
func (l *loop) idleTimer(cl *clientConn) {
	l.wheel.set(&cl.tm, min(cl.phaseEnd, l.now+int64(l.cfg.ParkAfter)))
}

// otherCodings reports whether a response applies a transfer coding other
// than chunked (RFC 9112 §7).
func otherCodings(r *httpparse.Response) bool {
	for i := range r.Headers[:r.NumHeaders] {
		h := &r.Headers[i]
		if h.ID == httpparse.HdrTransferEncoding && !httpparse.EqualFoldASCII(h.Value, "chunked") {
			return true
		}
	}
	return false
}

// isHEADPrefix reports whether a request that failed to parse starts as a
// HEAD request, so that PILB's answer to it carries no body.
func isHEADPrefix(buf []byte) bool {
	for len(buf) >= 2 && buf[0] == '\r' && buf[1] == '\n' {
		buf = buf[2:]
	}
	return len(buf) >= 5 && string(buf[:5]) == "HEAD "
}
