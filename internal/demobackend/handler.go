package demobackend

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file is the hot path: OnTraffic parses every complete request in
// the connection's buffer, answers each in order into one batch, and
// writes the batch once.

const (
	// maxOutbound is how many response bytes one connection may have queued
	// (in gnet's outbound buffer and the batch being built) before the
	// server stops producing more until the client reads: it bounds the
	// memory a slow reader or a deep pipeline can pin.
	maxOutbound = 4 << 20
	// maxStalledInbound is how many unprocessed request bytes a connection
	// may pile up while its responses are stalled; past it the connection
	// is closed. gnet cannot stop reading a socket, so this is the bound.
	maxStalledInbound = 4 << 20
	// wakeDelay is how long a stalled connection waits before it tries
	// again: gnet has no "writable" callback, so a timer wakes it.
	wakeDelay = time.Millisecond
	// closeGrace is how long a connection that is to close after its last
	// response waits for the client to take the bytes still queued: gnet's
	// Close drops what the socket does not accept at once.
	closeGrace = 10 * time.Second
	// smallCopy is the largest body copied into the batch buffer; larger
	// ones are handed to writev(2) as they are.
	smallCopy = 16 << 10
	// maxIOV keeps a batch under Linux's IOV_MAX (1024): gnet hands the
	// whole batch to one writev(2).
	maxIOV = 512
	// keepBuf is the largest echo or batch buffer kept for reuse.
	keepBuf = 64 << 10
)

// phase is where a connection is in its current exchange.
type phase uint8

const (
	phaseHead    phase = iota // waiting for a request head
	phaseBody                 // reading a Content-Length request body
	phaseChunked              // reading a chunked request body
	phaseStream               // sending a response body that did not fit maxOutbound
	phaseClosing              // last response queued; close once it is flushed
)

// connState is one connection's state between OnTraffic calls (gnet's
// Context). It holds no slice of gnet's buffers.
type connState struct {
	phase phase
	// scanned is httpparse's resume point in a partial head.
	scanned int

	// The exchange in progress.
	rt       route
	mode     connMode
	head     bool  // HEAD request: the response has no body
	bodyLeft int64 // phaseBody: request body bytes still to read
	chunk    httpparse.ChunkedScanner
	echo     []byte // /echo: the request body read so far

	// phaseStream: the response body still to send.
	sent      int64 // body bytes already queued
	left      int64 // body bytes still to queue
	chunked   bool  // send as chunks of chunkSize, then the trailer
	chunkSize int64
	chunkLeft int64

	closeBy time.Time // phaseClosing: give up waiting for the flush

	// waking is set while a wakeLater timer is pending, so that a
	// connection has at most one: every OnTraffic of a stalled connection
	// would otherwise start another 1 ms chain.
	waking atomic.Bool
}

// batch collects the responses of one OnTraffic call so that pipelined
// requests are answered with one write. Small pieces are copied into out;
// large ones are referenced in iov. It is pooled per call, not per
// connection, together with the Request the parser fills.
type batch struct {
	req    httpparse.Request
	out    []byte
	mark   int // out[mark:] is not in iov yet
	iov    [][]byte
	queued int // bytes in this batch
}

func (b *batch) small(p []byte) {
	b.out = append(b.out, p...)
	b.queued += len(p)
}

// big adds p by reference; p must stay unchanged until flush.
func (b *batch) big(p []byte) {
	b.seal()
	b.iov = append(b.iov, p)
	b.queued += len(p)
}

func (b *batch) body(p []byte) {
	if len(p) <= smallCopy {
		b.small(p)
	} else {
		b.big(p)
	}
}

// seal moves the open part of out into iov. Earlier iov entries keep
// pointing at out's old array if a later append moves it.
func (b *batch) seal() {
	if len(b.out) > b.mark {
		b.iov = append(b.iov, b.out[b.mark:])
		b.mark = len(b.out)
	}
}

// flush hands the batch to gnet, which writes what the socket takes and
// copies the rest into the connection's outbound buffer.
func (b *batch) flush(c gnet.Conn) {
	b.seal()
	switch len(b.iov) {
	case 0:
	case 1:
		_, _ = c.Write(b.iov[0])
	default:
		_, _ = c.Writev(b.iov)
	}
	clear(b.iov)
	b.out, b.iov, b.mark, b.queued = b.out[:0], b.iov[:0], 0, 0
}

type handler struct {
	gnet.BuiltinEventEngine
	srv     *Server
	heads   *heads
	batches sync.Pool
}

var _ gnet.EventHandler = (*handler)(nil)

func newHandler(s *Server, h *heads) *handler {
	return &handler{
		srv:   s,
		heads: h,
		batches: sync.Pool{New: func() any {
			return &batch{out: make([]byte, 0, keepBuf), iov: make([][]byte, 0, 16)}
		}},
	}
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action { return h.srv.onBoot(eng) }

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&connState{})
	return nil, gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st, _ := c.Context().(*connState)
	if st == nil {
		return gnet.Close
	}
	b := h.batches.Get().(*batch)
	action := h.serve(c, st, b)
	b.flush(c)
	if cap(b.out) > keepBuf {
		b.out = make([]byte, 0, keepBuf)
	}
	h.batches.Put(b)
	return action
}

// serve runs the connection's state machine over everything buffered.
func (h *handler) serve(c gnet.Conn, st *connState, b *batch) gnet.Action {
	// buf is valid until Discard or the return of OnTraffic.
	buf, _ := c.Peek(-1)
	used := 0
	for {
		switch st.phase {
		case phaseHead:
			if used == len(buf) {
				discard(c, used)
				return gnet.None
			}
			if b.queued+c.OutboundBuffered() > maxOutbound {
				return h.stall(c, st, b, used)
			}
			r := &b.req
			r.Scanned = st.scanned
			n, err := httpparse.ParseRequest(buf[used:], r)
			if err == httpparse.ErrNeedMore {
				st.scanned = r.Scanned
				discard(c, used)
				return gnet.None
			}
			st.scanned = 0
			if err != nil {
				h.fail(st, b, httpparse.Status(err))
				continue
			}
			used += n
			h.begin(st, b, r)

		case phaseBody:
			take := int(min(st.bodyLeft, int64(len(buf)-used)))
			if st.rt.kind == routeEcho {
				st.echo = append(st.echo, buf[used:used+take]...)
			}
			used += take
			st.bodyLeft -= int64(take)
			if st.bodyLeft > 0 {
				discard(c, used)
				return gnet.None
			}
			h.respond(c, st, b)

		case phaseChunked:
			n, done, status := readChunked(st, buf[used:])
			used += n
			if status != 0 {
				h.fail(st, b, status)
				continue
			}
			if !done {
				discard(c, used)
				return gnet.None
			}
			h.respond(c, st, b)

		case phaseStream:
			if !h.pump(c, st, b) {
				return h.stall(c, st, b, used)
			}
			h.finish(st)

		case phaseClosing:
			// Nothing more is read; what the client sent after the last
			// request is dropped.
			_, _ = c.Discard(-1)
			b.flush(c)
			if c.OutboundBuffered() == 0 || time.Now().After(st.closeBy) {
				return gnet.Close
			}
			h.wakeLater(c, st)
			return gnet.None
		}
	}
}

// begin starts the exchange of a parsed request: it answers at once a
// request without a body and otherwise sets up the body phase.
func (h *handler) begin(st *connState, b *batch, r *httpparse.Request) {
	st.rt = parseRoute(r.Target)
	st.head = bytes.Equal(r.Method, []byte("HEAD"))
	switch {
	case !r.KeepAlive || st.rt.kind == routeClose:
		st.mode = modeClose
	case r.Minor == 0:
		st.mode = modeKeep10
	default:
		st.mode = modeKeep
	}
	echo := st.rt.kind == routeEcho
	switch r.Body {
	case httpparse.BodyLength:
		if echo && r.ContentLength > MaxBody {
			h.fail(st, b, 413)
			return
		}
		if r.ContentLength == 0 {
			break
		}
		if r.Expect100 {
			b.small(continue100)
		}
		st.bodyLeft = r.ContentLength
		if echo {
			st.echo = make([]byte, 0, min(r.ContentLength, keepBuf))
		}
		st.phase = phaseBody
		return
	case httpparse.BodyChunked:
		if r.Expect100 {
			b.small(continue100)
		}
		st.chunk.Reset()
		st.phase = phaseChunked
		return
	}
	h.respond(nil, st, b)
}

var (
	continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	crlf        = []byte("\r\n")
)

// respond queues the response to a request whose body has been read. c
// is only needed to flush an echo body before its buffer is reused; it is
// nil when the request had no body.
func (h *handler) respond(c gnet.Conn, st *connState, b *batch) {
	h.srv.requests.Add(1)
	hd := h.heads
	switch st.rt.kind {
	case routeRoot, routeClose:
		resp := hd.root[st.mode][0]
		if st.head {
			resp = hd.root[st.mode][1]
		}
		if len(resp) <= smallCopy {
			b.small(resp)
		} else {
			b.big(resp)
		}
	case routeBytes, routeChunked:
		length := st.rt.n
		if st.rt.kind == routeChunked {
			length = lengthChunked
		}
		h.head(b, 200, length, st.mode)
		if !st.head {
			st.sent, st.left = 0, st.rt.n
			st.chunked = st.rt.kind == routeChunked
			// "A few chunks": four, each at most a megabyte.
			st.chunkSize = min(max((st.rt.n+3)/4, 1), 1<<20)
			st.chunkLeft = 0
			st.phase = phaseStream
			return
		}
	case routeEcho:
		h.head(b, 200, int64(len(st.echo)), st.mode)
		if !st.head && len(st.echo) > 0 {
			b.body(st.echo)
			if c != nil {
				b.flush(c)
			}
		}
		if cap(st.echo) > keepBuf || c == nil {
			st.echo = nil
		} else {
			st.echo = st.echo[:0]
		}
	case routeStatus:
		length := int64(0)
		if st.rt.n == 204 || st.rt.n == 304 {
			// RFC 9110 §8.6: no Content-Length in a 204; a 304 would
			// announce the length of a body it does not carry.
			length = lengthNone
		}
		h.head(b, int(st.rt.n), length, st.mode)
	case routeBad:
		h.head(b, 400, 0, st.mode)
	}
	h.finish(st)
}

// head queues a response head built for this request.
func (h *handler) head(b *batch, status int, length int64, mode connMode) {
	n0 := len(b.out)
	b.out = h.heads.appendHead(b.out, status, length, mode)
	b.queued += len(b.out) - n0
}

// fail answers a request that cannot be served with status and an empty
// body, and closes: after a framing error the rest of the stream cannot
// be trusted (RFC 9112 §9.3 lets either side close at any time).
func (h *handler) fail(st *connState, b *batch, status int) {
	h.srv.requests.Add(1)
	h.head(b, status, 0, modeClose)
	st.echo = nil
	st.mode = modeClose
	h.finish(st)
}

// finish ends an exchange whose response is fully queued.
func (h *handler) finish(st *connState) {
	if st.mode == modeClose {
		st.phase = phaseClosing
		st.closeBy = time.Now().Add(closeGrace)
		return
	}
	st.phase = phaseHead
}

// pump queues the rest of a /bytes or /chunked body, up to maxOutbound in
// flight. It reports whether the body is complete.
func (h *handler) pump(c gnet.Conn, st *connState, b *batch) bool {
	for {
		if st.chunked && st.chunkLeft == 0 {
			if st.left == 0 {
				b.small(h.heads.trailer)
				return true
			}
			st.chunkLeft = min(st.chunkSize, st.left)
			n0 := len(b.out)
			b.out = strconv.AppendInt(b.out, st.chunkLeft, 16)
			b.out = append(b.out, crlf...)
			b.queued += len(b.out) - n0
		}
		if !st.chunked && st.left == 0 {
			return true
		}
		budget := int64(maxOutbound - c.OutboundBuffered() - b.queued)
		if budget <= 0 {
			return false
		}
		n := st.left
		if st.chunked {
			n = st.chunkLeft
		}
		p := patternAt(st.sent, min(n, budget))
		b.body(p)
		st.sent += int64(len(p))
		st.left -= int64(len(p))
		if st.chunked {
			st.chunkLeft -= int64(len(p))
			if st.chunkLeft == 0 {
				b.small(crlf)
			}
		}
		if len(b.iov) >= maxIOV {
			b.flush(c)
		}
	}
}

// stall stops serving a connection whose client is not reading fast
// enough and retries after wakeDelay; a client that meanwhile pipelines
// more than maxStalledInbound is cut off.
func (h *handler) stall(c gnet.Conn, st *connState, b *batch, used int) gnet.Action {
	discard(c, used)
	b.flush(c)
	if c.InboundBuffered() > maxStalledInbound {
		return gnet.Close
	}
	h.wakeLater(c, st)
	return gnet.None
}

// wakeLater calls OnTraffic again after wakeDelay. gnet ignores the wake
// of a connection closed in between.
func (h *handler) wakeLater(c gnet.Conn, st *connState) {
	if !st.waking.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(wakeDelay, func() {
		st.waking.Store(false)
		_ = c.Wake(nil)
	})
}

// readChunked consumes the chunked request body at the start of p,
// keeping its data for /echo. It returns the bytes consumed, whether the
// body is complete, and the status of an error response, or 0.
func readChunked(st *connState, p []byte) (used int, done bool, status int) {
	if st.rt.kind != routeEcho {
		n, done, err := st.chunk.Scan(p)
		if err != nil && err != httpparse.ErrNeedMore {
			return n, false, httpparse.Status(err)
		}
		return n, done, 0
	}
	for used < len(p) && !done {
		n, data, d, err := st.chunk.Decode(p[used:])
		if err != nil && err != httpparse.ErrNeedMore {
			return used, false, httpparse.Status(err)
		}
		if len(st.echo)+len(data) > MaxBody {
			return used, false, 413
		}
		st.echo = append(st.echo, data...)
		used += n
		done = d
	}
	return used, done, 0
}

// discard drops the first n buffered bytes. gnet's Discard(0) drops
// everything, so n == 0 must not reach it.
func discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}
