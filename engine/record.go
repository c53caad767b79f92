package engine

import (
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file follows a request from its head to its end for the metrics
// and the access log. The hot path calls in at four points (ops: hooks):
// the head taken (beginRequest), the backend picked, the status sent, and
// bytes moved (countIn, countOut); every way an exchange ends calls
// endRequest, which is idempotent: finishing, failing, cutting, closing,
// the client vanishing.

// linePool holds the buffers that keep a request's method and target from
// its head to its access log record: a client holds one only during an
// exchange.
var linePool bytebufferpool.Pool

// maxLogTarget bounds the request-target kept for the access log; a longer
// one is cut and marked. 2 KiB keeps every URL a browser sends whole while
// capping what a hostile target costs each line.
const maxLogTarget = 2048

// beginRequest opens cl's record once its head is parsed (into r) and n
// bytes of head and body are taken.
func (l *loop) beginRequest(cl *clientConn, r *httpparse.Request, n int) {
	l.ops.stats.bytesIn += uint64(n)
	if !l.cfg.Metrics && l.cfg.AccessLog == nil {
		return
	}
	rec := &cl.x().rec
	rec.open = true
	rec.start = monoNow()
	rec.status = 0
	rec.in = int64(n)
	rec.out = 0
	rec.b = nil
	if l.cfg.AccessLog != nil {
		if rec.line == nil {
			rec.line = linePool.Get()
		}
		b := append(rec.line.B[:0], r.Method...)
		b = append(b, ' ')
		if len(r.Target) > maxLogTarget {
			b = append(b, r.Target[:maxLogTarget]...)
			b = append(b, "..."...)
		} else {
			b = append(b, r.Target...)
		}
		rec.line.B = b
	}
	l.ops.stats.inFlight++
}

// countIn counts n more bytes taken from cl (body, tunnel).
func (l *loop) countIn(cl *clientConn, n int) {
	cl.x().rec.in += int64(n)
	l.ops.stats.bytesIn += uint64(n)
}

// countOut counts n bytes written to cl.
func (l *loop) countOut(cl *clientConn, n int) {
	cl.x().rec.out += int64(n)
	l.ops.stats.bytesOut += uint64(n)
}

// endRequest closes cl's record, if open: counts it, and hands it to the
// access log.
func (l *loop) endRequest(cl *clientConn) {
	l.leaveQueue(cl)
	if cl.ex == nil || !cl.ex.rec.open {
		return
	}
	rec := &cl.ex.rec
	rec.open = false
	l.ops.stats.inFlight--
	d := time.Duration(monoNow() - rec.start)
	if l.cfg.Metrics {
		l.ops.stats.count(cl.pool, rec.b, int(rec.status), d, int(cl.tries))
	}
	if a := l.cfg.AccessLog; a != nil {
		l.logRequest(a, cl, d)
		linePool.Put(rec.line)
		rec.line = nil
	}
}

// rejected counts, logs and records a request PILB refused before routing
// it (rejectRequest): a malformed head, a header timeout, CONNECT.
func (l *loop) rejected(cl *clientConn, code int, err error) {
	l.warnGenerated(cl, code, err, fromClient)
	if l.cfg.Metrics {
		l.ops.stats.rejects[reasonOf(code, err)]++
		l.ops.stats.pool(noLabel).noBackend[classOf(code)]++
	}
	if a := l.cfg.AccessLog; a != nil {
		l.logRejected(a, cl, code)
	}
}

// exchangeFailed records PILB's own answer code to cl's exchange, or the
// cut when part of the response has reached the client (failExchange), and
// logs it.
func (l *loop) exchangeFailed(cl *clientConn, code int, err error, src errorSource) {
	if cl.respStarted {
		l.warnCut(cl, err, src)
		return
	}
	cl.x().rec.status = int32(code)
	l.warnGenerated(cl, code, err, src)
	if src == fromClient && l.cfg.Metrics {
		l.ops.stats.rejects[reasonOf(code, err)]++
	}
}

// epoch anchors monoNow: records keep 8-byte monotonic times, not 24-byte
// time.Times, since every client carries one.
var epoch = time.Now()

// monoNow returns monotonic nanoseconds since epoch.
func monoNow() int64 { return int64(time.Since(epoch)) }

// monoTime returns the wall time of a monoNow reading.
func monoTime(mono int64) time.Time { return epoch.Add(time.Duration(mono)) }
