package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The access log: one line per request, written off the loops.
//
// A loop never formats or writes a line. At the end of a request it copies
// the record's fields into the next slot of a ring of its own (a
// single-producer, single-consumer queue: a slot fill, one atomic store),
// and a writer goroutine drains every loop's ring every flushEvery,
// formats the lines into a buffered writer and flushes it. When a ring is
// full (the writer, or the disk behind it, is behind), the record is
// dropped and counted (pilb_access_log_dropped_total): a loop never waits
// for the log. Lines of one loop come in order; lines of different loops
// interleave by when the writer reads them.

const (
	// ringSize is the records a loop can be ahead of the writer: at
	// 100 000 requests per second per loop, 40 ms of them, four times the
	// writer's period. A power of two.
	ringSize = 4096

	// flushEvery is how often the writer drains the rings and flushes: a
	// line reaches the file within it.
	flushEvery = 10 * time.Millisecond

	// writeBufferSize is the writer's buffer: a batch of lines per write(2).
	writeBufferSize = 64 << 10

	// headBatch is how many records the writer reads before it gives their
	// slots back, so that a loop sees room before the whole batch is done.
	headBatch = 256
)

// AccessLogFormat is the format of access log lines.
type AccessLogFormat uint8

const (
	// AccessLogJSON writes one JSON object per line:
	//
	//	{"time":"2026-11-27T10:00:00.123456Z","client":"192.0.2.1","method":"GET","target":"/x",
	//	 "proto":"HTTP/1.1","status":200,"bytes_sent":120,"bytes_received":78,
	//	 "duration_ms":1.234,"pool":"default","backend":"s1","retries":0}
	AccessLogJSON AccessLogFormat = iota
	// AccessLogCommon writes the Common Log Format, then PILB's fields as
	// key=value pairs:
	//
	//	192.0.2.1 - - [27/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 120 pool=default backend=s1 duration_ms=1.234 retries=0 bytes_received=78
	AccessLogCommon
)

// ParseAccessLogFormat reads "json" or "common".
func ParseAccessLogFormat(s string) (AccessLogFormat, error) {
	switch s {
	case "json":
		return AccessLogJSON, nil
	case "common":
		return AccessLogCommon, nil
	}
	return 0, fmt.Errorf("%w: access log format %q: want json or common", ErrConfig, s)
}

// AccessLog writes access log lines to an io.Writer from its own
// goroutine. Create it with NewAccessLog, give it to the engine in
// Config.AccessLog, and Close it once the engine has stopped: Close writes
// what is left and flushes.
type AccessLog struct {
	format AccessLogFormat
	log    *slog.Logger

	mu    sync.Mutex // guards rings
	rings []*logRing

	lines  atomic.Uint64 // lines written
	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	swap   chan swapOutput

	// The writer goroutine's own.
	w        *bufio.Writer
	buf      []byte
	ringsNow []*logRing
	failed   bool // a write failed: logged once
}

// NewAccessLog starts an access log writing to w in format f. Write errors
// are logged once to log (nil: discarded); the lines that fail are lost,
// and the loops are never held up.
func NewAccessLog(w io.Writer, f AccessLogFormat, log *slog.Logger) *AccessLog {
	a := newAccessLog(w, f, log)
	go a.run()
	return a
}

// newAccessLog returns an AccessLog whose writer is not started: its
// caller drains it (benchmarks, to measure the writer's work per line).
func newAccessLog(w io.Writer, f AccessLogFormat, log *slog.Logger) *AccessLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AccessLog{
		format: f,
		log:    log.With("component", "accesslog"),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		swap:   make(chan swapOutput),
		w:      bufio.NewWriterSize(w, writeBufferSize),
		buf:    make([]byte, 0, 512),
	}
}

// Close stops the writer once it has written every record queued so far,
// and flushes. It does not close the underlying writer.
func (a *AccessLog) Close() error {
	if a.closed.CompareAndSwap(false, true) {
		close(a.stop)
	}
	<-a.done
	return nil
}

// swapOutput asks the writer to go on in another output.
type swapOutput struct {
	w    io.Writer
	done chan struct{}
}

// SetOutput makes the log go on in w: what is queued and buffered so far
// is written to the previous output first, which the caller may close
// once SetOutput returns (a log file reopened after its rotation).
func (a *AccessLog) SetOutput(w io.Writer) {
	s := swapOutput{w: w, done: make(chan struct{})}
	select {
	case a.swap <- s:
		<-s.done
	case <-a.done:
	}
}

// Counts returns the lines written and the records dropped so far.
func (a *AccessLog) Counts() (lines, dropped uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.rings {
		dropped += r.dropped.Load()
	}
	return a.lines.Load(), dropped
}

func (a *AccessLog) run() {
	defer close(a.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			a.drainAll()
			a.flush()
			return
		case <-t.C:
			if a.drainAll() > 0 {
				a.flush()
			}
		case s := <-a.swap:
			a.drainAll()
			a.flush()
			a.w.Reset(s.w)
			a.failed = false
			close(s.done)
		}
	}
}

func (a *AccessLog) drainAll() int {
	a.mu.Lock()
	a.ringsNow = append(a.ringsNow[:0], a.rings...)
	a.mu.Unlock()
	n := 0
	for _, r := range a.ringsNow {
		n += a.drain(r)
	}
	return n
}

// drain writes every record r holds and gives their slots back.
func (a *AccessLog) drain(r *logRing) int {
	h, t := r.head.Load(), r.tail.Load()
	n := int(t - h)
	for h < t {
		e := &r.slots[h&(ringSize-1)]
		if a.format == AccessLogCommon {
			a.buf = e.appendCommon(a.buf[:0])
		} else {
			a.buf = e.appendJSON(a.buf[:0])
		}
		a.write(a.buf)
		h++
		if h%headBatch == 0 {
			r.head.Store(h)
		}
	}
	r.head.Store(h)
	a.lines.Add(uint64(n))
	return n
}

func (a *AccessLog) write(p []byte) {
	if _, err := a.w.Write(p); err != nil {
		a.failedOnce(err)
	}
}

func (a *AccessLog) flush() {
	if err := a.w.Flush(); err != nil {
		a.failedOnce(err)
	}
}

func (a *AccessLog) failedOnce(err error) {
	if !a.failed {
		a.failed = true
		a.log.Error("access log write failed; lines are being lost", "err", err)
	}
}

// newRing gives a loop its ring.
func (a *AccessLog) newRing() *logRing {
	r := new(logRing)
	a.mu.Lock()
	a.rings = append(a.rings, r)
	a.mu.Unlock()
	return r
}

// logRing is one loop's queue of records: the loop fills slots at tail,
// the writer reads them at head. Each index is written by one side only;
// the padding keeps them on cache lines of their own.
type logRing struct {
	head    atomic.Uint64 // next slot the writer reads
	_       [56]byte
	tail    atomic.Uint64 // next slot the loop fills
	_       [56]byte
	dropped atomic.Uint64 // records the loop found no room for
	slots   [ringSize]logEntry
}

// logEntry is one request's record in a ring. text holds the client's
// address and then the request line's method and target; the slot's
// buffer is reused, so a record costs no allocation once the ring has
// gone round.
type logEntry struct {
	start   int64 // Unix nanoseconds of the head
	dur     int64 // nanoseconds
	status  int
	minor   int
	in, out int64
	retries int
	pool    string
	backend string
	text    []byte
	ipLen   int
	hasReq  bool // text holds a method and target after the address
}

// logRequest queues the record of cl's request, which took d.
func (l *loop) logRequest(a *AccessLog, cl *clientConn, d time.Duration) {
	e := l.logSlot(a)
	if e == nil {
		return
	}
	rec := &cl.x().rec
	e.start = monoTime(rec.start).UnixNano()
	e.dur = int64(d)
	e.status = int(rec.status)
	if e.status == 0 {
		e.status = statusClientGone
	}
	e.minor = int(cl.minor)
	e.in, e.out = rec.in, rec.out
	e.retries = max(int(cl.tries)-1, 0)
	e.pool = noLabel
	if cl.pool != nil {
		e.pool = cl.pool.Name()
	}
	e.backend = noLabel
	if rec.b != nil {
		e.backend = rec.b.ID
	}
	e.text = cl.ip.AppendTo(e.text[:0])
	e.ipLen = len(e.text)
	e.hasReq = rec.line != nil
	if e.hasReq {
		e.text = append(e.text, rec.line.B...)
	}
	l.ops.ring.tail.Add(1)
}

// logRejected queues the record of a request refused before it was
// routed; what of it was read is not kept.
func (l *loop) logRejected(a *AccessLog, cl *clientConn, code int) {
	e := l.logSlot(a)
	if e == nil {
		return
	}
	*e = logEntry{text: cl.ip.AppendTo(e.text[:0]), start: time.Now().UnixNano(), status: code,
		minor: 1, pool: noLabel, backend: noLabel, out: int64(len(errorResponse(code, true, false)))}
	e.ipLen = len(e.text)
	l.ops.ring.tail.Add(1)
}

// statusClientGone is logged for a request that ended with no status sent
// (the client left first): nginx's 499.
const statusClientGone = 499

// logSlot returns the loop's next free slot, or nil (counted) when its
// ring is full.
func (l *loop) logSlot(a *AccessLog) *logEntry {
	r := l.ops.ring
	if r == nil {
		r = a.newRing()
		l.ops.ring = r
	}
	t := r.tail.Load()
	if t-r.head.Load() >= ringSize {
		r.dropped.Add(1)
		return nil
	}
	return &r.slots[t&(ringSize-1)]
}

// appendJSON formats e as a JSON object and a newline.
func (e *logEntry) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = time.Unix(0, e.start).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","client":`...)
	b = appendJSONString(b, e.text[:e.ipLen])
	method, target := e.request()
	b = append(b, `,"method":`...)
	b = appendJSONString(b, method)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, target)
	b = append(b, `,"proto":"HTTP/1.`...)
	b = strconv.AppendInt(b, int64(e.minor), 10)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes_sent":`...)
	b = strconv.AppendInt(b, e.out, 10)
	b = append(b, `,"bytes_received":`...)
	b = strconv.AppendInt(b, e.in, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.dur)/1e6, 'f', 3, 64)
	b = append(b, `,"pool":`...)
	b = appendJSONString(b, e.pool)
	b = append(b, `,"backend":`...)
	b = appendJSONString(b, e.backend)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(e.retries), 10)
	return append(b, "}\n"...)
}

// appendCommon formats e in the Common Log Format, PILB's fields after it.
func (e *logEntry) appendCommon(b []byte) []byte {
	b = appendCLFBytes(b, e.text[:e.ipLen])
	b = append(b, " - - ["...)
	b = time.Unix(0, e.start).UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	if method, target := e.request(); e.hasReq {
		b = appendCLFBytes(b, method)
		b = append(b, ' ')
		b = appendCLFBytes(b, target)
		b = append(b, " HTTP/1."...)
		b = strconv.AppendInt(b, int64(e.minor), 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, ' ')
	if e.out == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, e.out, 10)
	}
	b = append(b, " pool="...)
	b = appendCLFBytes(b, e.pool)
	b = append(b, " backend="...)
	b = appendCLFBytes(b, e.backend)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, float64(e.dur)/1e6, 'f', 3, 64)
	b = append(b, " retries="...)
	b = strconv.AppendInt(b, int64(e.retries), 10)
	b = append(b, " bytes_received="...)
	b = strconv.AppendInt(b, e.in, 10)
	return append(b, '\n')
}

// request splits the record's request line into method and target.
func (e *logEntry) request() (method, target []byte) {
	if !e.hasReq {
		return nil, nil
	}
	line := e.text[e.ipLen:]
	for i, c := range line {
		if c == ' ' {
			return line[:i], line[i+1:]
		}
	}
	return line, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// bytes outside printable ASCII escaped (a target is bytes, not UTF-8).
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendCLFBytes appends s as Apache does in a log line: quotes and
// backslashes escaped, bytes outside printable ASCII as \xHH, so that a
// line cannot be split or forged by what a client sent.
func appendCLFBytes[T string | []byte](b []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}
