package engine

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file is the hot path: a request from the client's OnTraffic to the
// backend write (onClientTraffic, startExchange, dispatch), and the
// response from the backend's OnTraffic back to the client
// (onBackendTraffic, forwardResponseBody, finishResponse).
//
// Writes to a peer can fail, and gnet then closes the peer at once: its
// OnClose runs inside the write. Every write is therefore followed by a
// check that the exchange is still the one this code was working on.

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

// onClientTraffic consumes what a client sent: request heads, request
// bodies, tunnel bytes. It loops while it makes progress, since one read
// may hold several pipelined requests (each waits for the previous
// response: one request at a time upstream).
func (l *loop) onClientTraffic(cl *clientConn) gnet.Action {
	cl.inTraffic = true
	defer func() { cl.inTraffic = false }()
	for cl.c != nil {
		switch cl.state {
		case csIdle, csHead:
			buf := cl.input()
			if len(buf) == 0 {
				return gnet.None
			}
			if cl.state == csIdle {
				cl.state = csHead
				cl.deadline = l.now + int64(l.cfg.HeaderTimeout)
			}
			r := &l.req
			r.Scanned = cl.scanned
			n, err := httpparse.ParseRequest(buf, r)
			if err == httpparse.ErrNeedMore {
				cl.scanned = r.Scanned
				return gnet.None
			}
			cl.scanned = 0
			if err != nil {
				l.rejectRequest(cl, httpparse.Status(err), err)
				continue
			}
			l.startExchange(cl, buf, n)

		case csExchange:
			if cl.reqDone {
				// Pipelined requests wait in the input until the response
				// ends; past the high-water mark the client is not read.
				if cl.c.InboundBuffered() > l.cfg.HighWater && l.pauseClient(cl) {
					return gnet.Close
				}
				return gnet.None
			}
			buf := cl.input()
			if len(buf) == 0 {
				return gnet.None
			}
			if !l.forwardRequestBody(cl, buf) {
				if cl.state == csExchange && cl.be == nil {
					return gnet.None // answered while detached: see clientReopened
				}
				continue
			}
			if cl.c != nil && cl.be != nil && !cl.reqDone && cl.be.output() > l.cfg.HighWater && l.pauseClient(cl) {
				return gnet.Close
			}

		case csTunnel:
			buf := cl.input()
			if len(buf) == 0 {
				return gnet.None
			}
			be := cl.be
			ok := l.writeBackend(be, buf)
			if cl.c == nil {
				return gnet.None
			}
			cl.consume(len(buf))
			cl.deadline = l.now + int64(l.cfg.TunnelTimeout)
			if ok && be.output() > l.cfg.HighWater && l.pauseClient(cl) {
				return gnet.Close
			}
			return gnet.None

		default: // closing, lingering: what the client still sends is dropped
			cl.consume(-1)
			return gnet.None
		}
	}
	return gnet.None
}

// startExchange takes the request head parsed into l.req from buf[:n]:
// it writes the upstream head (and as much of the body as is here, up to
// maxRetainedBody) into cl.out, consumes those bytes and dispatches.
func (l *loop) startExchange(cl *clientConn, buf []byte, n int) {
	r := &l.req
	if string(r.Method) == "CONNECT" {
		// PILB is a reverse proxy: it does not open tunnels to arbitrary
		// hosts (RFC 9110 §9.3.6).
		l.rejectRequest(cl, 501, nil)
		return
	}
	cl.minor = r.Minor
	cl.isHEAD = string(r.Method) == "HEAD"
	cl.idempot = idempotent(r.Method)
	cl.keepAlive = r.KeepAlive && !l.srv.draining.Load()
	cl.upgrade = r.Upgrade
	cl.reqBody.reset(r.Body, r.ContentLength)
	cl.closeAfter = false
	cl.respStarted = false
	cl.deadline = 0
	cl.tries = 0
	cl.pool = l.cfg.Routes.Load().Route(r.Host, r.Target)
	if cl.out == nil {
		cl.out = outPool.Get()
	}
	cl.out.B = appendRequestHead(cl.out.B[:0], r, cl.ip, l.cfg.Proto)

	consumed := n
	cl.reqDone = cl.reqBody.empty()
	if rest := buf[n:]; !cl.reqDone && len(rest) > 0 {
		// The body bytes already here go up with the head, up to
		// maxRetainedBody; the rest streams from onClientTraffic.
		k, done, err := cl.reqBody.take(rest[:min(len(rest), maxRetainedBody)])
		if err != nil {
			l.rejectRequest(cl, httpparse.Status(err), err)
			return
		}
		cl.out.B = append(cl.out.B, rest[:k]...)
		consumed += k
		cl.reqDone = done
	}
	cl.retained = cl.reqDone
	cl.consume(consumed)
	cl.state = csExchange
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
	b := cl.pool.Pick(l.now)
	if b == nil || !b.Acquire() {
		if cl.tries > 1 {
			// The backends tried failed and are backed off now: the
			// cause the client should hear of is theirs.
			l.failExchange(cl, 502, ErrConnect, fromBackend)
			return
		}
		l.failExchange(cl, 503, ErrNoBackend, fromInternal)
		return
	}
	be, ok := l.pool.Get(b)
	if !ok {
		be = l.dial(b)
	}
	bind(cl, be)
	l.armDeadlines(cl, be)
	l.writeBackend(be, req)
}

// armDeadlines starts the clock that fits where the exchange is. Once the
// whole request is handed over, the backend has BackendTimeout to answer
// (and to say more, while a body streams). Before that, a client that goes
// quiet in its body has IdleTimeout; a backend that stops reading it has
// BackendTimeout from the moment the client is paused for its sake.
func (l *loop) armDeadlines(cl *clientConn, be *backendConn) {
	switch {
	case cl.reqDone:
		be.deadline = l.now + int64(l.cfg.BackendTimeout)
		cl.deadline = 0
	case cl.paused:
		be.deadline = l.now + int64(l.cfg.BackendTimeout)
	default:
		be.deadline = 0
		cl.deadline = l.now + int64(l.cfg.IdleTimeout)
	}
}

// forwardRequestBody hands the body bytes at the head of buf to the
// backend and consumes them. It returns false when the exchange ended or
// changed under it (a failed write, a bad chunk).
func (l *loop) forwardRequestBody(cl *clientConn, buf []byte) bool {
	be := cl.be
	if be == nil {
		return false
	}
	k, done, err := cl.reqBody.take(buf)
	if err != nil {
		l.failExchange(cl, httpparse.Status(err), err, fromClient)
		return false
	}
	if !l.writeBackend(be, buf[:k]) || cl.be != be || cl.c == nil {
		return false
	}
	cl.consume(k)
	cl.reqDone = done
	l.armDeadlines(cl, be)
	return true
}

// writeBackend writes p to be, or keeps it until be is connected. It
// returns false when the write failed (be is closed by then, and the
// exchange handed to backendGone).
func (l *loop) writeBackend(be *backendConn, p []byte) bool {
	if be.c == nil {
		be.pending = append(be.pending, p...)
		return true
	}
	_, err := be.c.Write(p)
	return err == nil
}

// onBackendTraffic consumes what a backend sent: interim and final
// response heads, the body, tunnel bytes.
func (l *loop) onBackendTraffic(be *backendConn) gnet.Action {
	for {
		cl := be.cl
		if cl != nil && cl.c == nil && cl.state != csClosed {
			// The client is detached by a pause (or being enrolled again):
			// what the backend sent waits in the buffer until it is back.
			l.resumeClient(cl)
			return gnet.None
		}
		if cl == nil || be.c == nil {
			// An idle pooled connection spoke out of turn (a late 408, say):
			// it can no longer be trusted to frame the next response.
			if be.c != nil {
				discard(be.c, -1)
			}
			return gnet.Close
		}
		switch be.state {
		case bsHead:
			buf, _ := be.c.Peek(-1)
			if len(buf) == 0 {
				return gnet.None
			}
			if !be.gotResp {
				be.gotResp = true
				cl.releaseOut() // no retry from here on
			}
			r := &l.resp
			r.Scanned = be.scanned
			n, err := httpparse.ParseResponse(buf, r, cl.isHEAD)
			if err == httpparse.ErrNeedMore {
				be.scanned = r.Scanned
				return gnet.None
			}
			be.scanned = 0
			if err != nil {
				l.failExchange(cl, 502, err, fromBackend)
				return gnet.None
			}
			if r.Status < 200 {
				if r.Status != 101 {
					l.forwardInterim(cl, r)
					discard(be.c, n)
					continue
				}
				if !cl.upgrade {
					l.failExchange(cl, 502, ErrBadResponse, fromBackend)
					return gnet.None
				}
			}
			if !l.startResponse(be, cl, buf, n) {
				return gnet.None
			}

		case bsBody:
			buf, _ := be.c.Peek(-1)
			if len(buf) == 0 {
				return gnet.None
			}
			k, done, ok := l.forwardResponseBody(be, cl, buf)
			if !ok {
				return gnet.None
			}
			discard(be.c, k)
			if done {
				l.finishResponse(be)
				return gnet.None
			}
			return l.afterResponseWrite(be, cl)

		case bsTunnel:
			buf, _ := be.c.Peek(-1)
			if len(buf) == 0 {
				return gnet.None
			}
			if !l.writeClient(cl, buf) || be.cl != cl {
				return gnet.None
			}
			discard(be.c, -1)
			cl.deadline = l.now + int64(l.cfg.TunnelTimeout)
			return l.afterResponseWrite(be, cl)

		default:
			return gnet.None
		}
	}
}

// forwardInterim passes a 1xx response on to an HTTP/1.1 client; HTTP/1.0
// clients must not get one (RFC 9110 §15.2).
func (l *loop) forwardInterim(cl *clientConn, r *httpparse.Response) {
	if cl.minor == 0 {
		return
	}
	l.buf = appendInterimHead(l.buf[:0], r)
	l.writeClient(cl, l.buf)
}

// startResponse writes the head of the final response r (parsed from
// buf[:n]) to the client, with as much of the body as fits behind it, and
// sets be up to stream the rest. It returns false when the exchange ended.
func (l *loop) startResponse(be *backendConn, cl *clientConn, buf []byte, n int) bool {
	r := &l.resp
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

	be.respBody.reset(r.Body, r.ContentLength)
	be.respKeepAlive = r.KeepAlive
	be.dechunk = f.dechunk

	l.buf = appendResponseHead(l.buf[:0], r, f)
	if f.upgrade {
		cl.respStarted = true
		be.state = bsTunnel
		cl.state = csTunnel
		be.deadline = 0
		cl.deadline = l.now + int64(l.cfg.TunnelTimeout)
		rest := buf[n:]
		if len(rest) <= inlineBody {
			l.buf = append(l.buf, rest...)
			rest = nil
		}
		if !l.writeClient(cl, l.buf) || (len(rest) > 0 && !l.writeClient(cl, rest)) || be.cl != cl {
			return false
		}
		discard(be.c, -1)
		// Bytes the client sent behind the upgrade request belong to the
		// new protocol: hand them over now.
		l.kickClient(cl)
		return be.cl == cl
	}

	be.state = bsBody
	if be.respBody.empty() {
		cl.respStarted = true
		if !l.writeClient(cl, l.buf) || be.cl != cl {
			return false
		}
		discard(be.c, n)
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
		if !l.writeClient(cl, l.buf) || be.cl != cl {
			return false
		}
		discard(be.c, n+k)
		if done {
			l.finishResponse(be)
			return false
		}
		return true
	}
	cl.respStarted = true
	if !l.writeClient(cl, l.buf) || be.cl != cl {
		return false
	}
	discard(be.c, n)
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
			if len(data) > 0 && (!l.writeClient(cl, data) || be.cl != cl) {
				return 0, false, false
			}
			n += k
			done = fin
		}
		be.deadline = l.now + int64(l.cfg.BackendTimeout)
		return n, done, true
	}
	k, done, err := be.respBody.take(buf)
	if err != nil {
		l.abortExchange(be, err)
		return 0, false, false
	}
	if !l.writeClient(cl, buf[:k]) || be.cl != cl {
		return 0, false, false
	}
	be.deadline = l.now + int64(l.cfg.BackendTimeout)
	return k, done, true
}

// afterResponseWrite stops reading the backend when the client is not
// keeping up (see pause.go).
func (l *loop) afterResponseWrite(be *backendConn, cl *clientConn) gnet.Action {
	if cl.c != nil && cl.c.OutboundBuffered() > l.cfg.HighWater && l.pauseBackend(be) {
		return gnet.Close
	}
	return gnet.None
}

// writeClient writes p to the client. It returns false when the write
// failed (the client is closed by then, and its exchange torn down).
func (l *loop) writeClient(cl *clientConn, p []byte) bool {
	if cl.c == nil {
		return false
	}
	_, err := cl.c.Write(p)
	return err == nil
}

// finishResponse ends an exchange whose response is complete: the backend
// connection goes back to the pool when it may be reused, and the client
// goes on with its next request or is closed.
func (l *loop) finishResponse(be *backendConn) {
	cl := be.cl
	reuse := be.respKeepAlive && cl.reqDone && be.c != nil && be.c.InboundBuffered() == 0
	unbind(cl, be)
	be.b.Release()
	be.b.ReportSuccess(l.now)
	if reuse {
		l.idleBackend(be)
	} else {
		l.closeBackend(be)
	}
	if cl.closeAfter || !cl.reqDone || cl.state == csClosed {
		// A body the backend did not wait for is still on its way: the
		// client cannot be read for a next request.
		l.closeClient(cl)
		return
	}
	cl.state = csIdle
	cl.deadline = l.now + int64(l.cfg.IdleTimeout)
	l.kickClient(cl)
}

// kickClient processes input that arrived while the client waited for a
// response (pipelined requests, tunnel bytes), unless onClientTraffic is
// already running further up the stack and will get to it.
func (l *loop) kickClient(cl *clientConn) {
	if cl.paused {
		l.resumeClient(cl)
		return
	}
	if cl.inTraffic || cl.c == nil {
		return
	}
	if len(cl.stash) > 0 || cl.c.InboundBuffered() > 0 {
		l.onClientTraffic(cl)
	}
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
