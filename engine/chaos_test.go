package engine

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The chaos test: seeded random clients and backends over real sockets,
// every response checked against the request it answers.
//
// Each request carries its id and a plan in its path: what the backend is
// to do with it (answer with some framing, size, interim responses and
// write pattern; not answer; time out; stall or die mid-body; answer
// garbage; answer early). The scripted backends read the plan and do it;
// the request body is derived from the id and checked by the backend, the
// response body is derived from the id and checked by the client, and the
// backend echoes the id in X-Id. The clients pipeline 1–8 requests or send
// them one by one, speak HTTP/1.0 or 1.1, send bodies with Content-Length
// or chunked, in one write or trickled, with Expect: 100-continue or not,
// read fast or slowly, half-close after their last request, or reset at a
// random moment. Against all that the test asserts: no response mixed up
// or out of order, no truncated response that looks complete, no lost
// response (a hang), no panic, and descriptors, timers and memory back to
// their baseline afterwards.
//
// The short run is part of `go test ./engine`; the long one:
//
//	go test ./engine -run TestChaos -chaos.conns 20000 -chaos.seed 7 -timeout 0 -v
var (
	chaosConns = flag.Int("chaos.conns", 0, "client connections of the chaos test (0: a short run)")
	chaosSeed  = flag.Uint64("chaos.seed", 0, "seed of the chaos test (0: time-based, printed)")
	// chaosOps (or PILB_CHAOS_OPS=1, which reaches the isolated child)
	// turns the metrics and the access log on, to show them harmless;
	// chaosListener (PILB_CHAOS_LISTENER=1) accepts as cmd/pilb does, on
	// a listener of PILB's own (listener.go).
	chaosOps      = flag.Bool("chaos.ops", false, "run the chaos test with metrics and the access log on")
	chaosListener = flag.Bool("chaos.listener", false, "run the chaos test with PILB's own accept loop")
)

// Timeouts of the proxy under chaos, and how far plans overshoot them;
// chaosScenario scales them for the race detector. BackendTimeout is far
// above what a response takes on a loaded machine, so that a 504 to a plan
// that answers is a failure, not bad luck.
var (
	chaosBackendTimeout = 1500 * time.Millisecond
	chaosIdleTimeout    = 4 * time.Second
	chaosOvershoot      = 2500 * time.Millisecond // a plan's stall or silence: past BackendTimeout
	chaosReadDeadline   = 10 * time.Second        // a response not here by then is lost
)

// chaosClient is one client connection's script.
type chaosClient struct {
	rng      *rand.Rand
	minor    int  // HTTP/1.minor
	keep10   bool // HTTP/1.0 with Connection: keep-alive
	pipeline bool // all requests in one go
	chunked  bool // request bodies chunked (1.1 only)
	expect   bool // Expect: 100-continue on the body of a lone request
	trickle  bool // bodies written in small pieces
	slowRead bool
	halfShut bool // shutdown(SHUT_WR) after the last request
	resetAt  int  // reset the connection while on request k (1-based); 0: never
	tunnel   bool // one upgrade request, then bytes both ways (plans[0] is kTunnel)
	plans    []*plan

	// writeReset: a write of the writer failed with a reset. The kernel
	// reports a reset once (it clears the socket's error as it reports
	// it), and after a reset a read of an empty receive queue returns EOF:
	// when the writer got the reset, the reader sees a clean end.
	writeReset atomic.Bool
}

var chaosIDs atomic.Int64

// newChaosClient draws a client and its plans.
func newChaosClient(rng *rand.Rand) *chaosClient {
	cc := &chaosClient{rng: rng, minor: 1}
	if rng.IntN(12) == 0 {
		p := &plan{id: int(chaosIDs.Add(1)), kind: kTunnel, status: 101, framing: 'l', size: rng.IntN(3 << 20)}
		if rng.IntN(3) == 0 {
			p.split, p.pauseMs = 1+rng.IntN(64<<10), rng.IntN(3) // a slow echo
		}
		cc.tunnel, cc.plans = true, []*plan{p}
		cc.trickle = rng.IntN(4) == 0
		cc.slowRead = rng.IntN(4) == 0
		cc.halfShut = rng.IntN(2) == 0
		if rng.IntN(10) == 0 {
			cc.resetAt = 1
		}
		return cc
	}
	if rng.IntN(6) == 0 {
		cc.minor = 0
		cc.keep10 = rng.IntN(2) == 0
	}
	n := 1
	if cc.minor == 1 || cc.keep10 {
		n = 1 + rng.IntN(8)
	}
	cc.pipeline = n > 1 && rng.IntN(2) == 0
	cc.chunked = cc.minor == 1 && rng.IntN(3) == 0
	cc.expect = cc.minor == 1 && !cc.pipeline && rng.IntN(4) == 0
	cc.trickle = rng.IntN(4) == 0
	cc.slowRead = rng.IntN(5) == 0
	cc.halfShut = !cc.expect && rng.IntN(6) == 0
	if rng.IntN(10) == 0 {
		cc.resetAt = 1 + rng.IntN(n)
	}
	for range n {
		cc.plans = append(cc.plans, newPlan(rng))
	}
	return cc
}

func newPlan(rng *rand.Rand) *plan {
	p := &plan{id: int(chaosIDs.Add(1)), status: 200, framing: "llcx"[rng.IntN(4)]}
	switch r := rng.IntN(100); {
	case r < 64:
		p.kind = kOK
		p.status = []int{200, 200, 200, 201, 404, 500}[rng.IntN(6)]
	case r < 70:
		p.kind = kNoBody
		p.status = []int{204, 304}[rng.IntN(2)]
		p.framing = 'l'
	case r < 76:
		p.kind = kNoAnswer
	case r < 80:
		p.kind = kTimeout
	case r < 86:
		p.kind = kTruncate
	case r < 90:
		p.kind = kStall
	case r < 94:
		p.kind = kGarbage
	default:
		p.kind = kEarly
	}
	if (p.kind == kTruncate || p.kind == kStall) && p.framing == 'x' {
		p.framing = 'l' // a cut close-delimited body is a complete one
	}
	switch r := rng.IntN(10); {
	case r < 5:
		p.size = rng.IntN(2000)
	case r < 9:
		p.size = rng.IntN(200_000)
	default:
		p.size = 200_000 + rng.IntN(1_000_000)
	}
	if (p.kind == kTruncate || p.kind == kStall) && p.size < 2 {
		p.size = 2
	}
	if rng.IntN(4) == 0 {
		p.interim = 1 + rng.IntN(2)
	}
	if rng.IntN(3) == 0 {
		p.split = 1 + rng.IntN(40_000)
		if rng.IntN(3) == 0 {
			p.pauseMs = 1 + rng.IntN(5)
		}
		// At most about 300 writes, and 300 ms of pauses: a slow answer,
		// not one that outlasts the client's patience.
		p.split = max(p.split, (p.size+1000)/300, 1)
		if p.pauseMs > 0 {
			p.split = max(p.split, (p.size+1000)*p.pauseMs/300)
		}
	}
	if rng.IntN(3) == 0 {
		p.reqBody = rng.IntN(150_000)
	}
	return p
}

// method returns the request method for p: HEAD now and then for answers
// that have a body.
func (cc *chaosClient) method(p *plan) string {
	switch {
	case p.reqBody > 0:
		return []string{"POST", "PUT"}[p.id%2]
	case p.kind == kOK && p.id%5 == 0:
		return "HEAD"
	}
	return "GET"
}

// request returns the head and the body bytes of p's request.
func (cc *chaosClient) request(p *plan, last bool) (head string, body []byte) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.%d\r\nHost: chaos\r\n", cc.method(p), p.path(), cc.minor)
	if cc.keep10 {
		b.WriteString("Connection: keep-alive\r\n")
	}
	if cc.minor == 1 && last && !cc.pipeline && cc.rng.IntN(4) == 0 {
		b.WriteString("Connection: close\r\n")
	}
	if p.reqBody > 0 || p.kind == kEarly {
		n := max(p.reqBody, 1)
		p.reqBody = n
		raw := chaosBody(p.id, n)
		if cc.expect {
			b.WriteString("Expect: 100-continue\r\n")
		}
		if cc.chunked {
			b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			var cb bytes.Buffer
			for rest := raw; len(rest) > 0; {
				k := min(len(rest), 1+cc.rng.IntN(20_000))
				fmt.Fprintf(&cb, "%x\r\n", k)
				cb.Write(rest[:k])
				cb.WriteString("\r\n")
				rest = rest[k:]
			}
			cb.WriteString("0\r\n\r\n")
			return b.String(), cb.Bytes()
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", n)
		return b.String(), raw
	}
	b.WriteString("\r\n")
	return b.String(), nil
}

// chaosResult counts what the clients saw.
type chaosResult struct {
	mu       sync.Mutex
	failures []string
	answered atomic.Int64 // responses checked
	cut      atomic.Int64 // truncations seen as such
	reset    atomic.Int64 // connections the client reset on purpose
	cutByW   atomic.Int64 // cuts whose reset the writer got (a clean EOF to the reader)
	finMid   atomic.Int64 // requests whose body the client cut short with a FIN, answered right
	srv      *Server      // for tunnelStates when a tunnel times out
}

func (r *chaosResult) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

// Events from a client's reader to its writer.
const (
	evInterim = iota // a 1xx arrived: send the body
	evFinal          // a final response arrived
	evStop           // the reader gave up: stop writing
)

// run plays one client connection against the proxy at addr.
func (cc *chaosClient) run(addr string, res *chaosResult) {
	if cc.tunnel {
		cc.runTunnel(addr, res)
		return
	}
	// Everything random is drawn before the reader and writer start.
	type req struct {
		head string
		body []byte
	}
	reqs := make([]req, len(cc.plans))
	for i, p := range cc.plans {
		reqs[i].head, reqs[i].body = cc.request(p, i == len(cc.plans)-1)
	}
	wrng := rand.New(rand.NewPCG(cc.rng.Uint64(), 1))
	rrng := rand.New(rand.NewPCG(cc.rng.Uint64(), 2))
	resetMidRequest := cc.rng.IntN(2) == 0
	// Or, on a request with a body, a FIN in the middle of the body
	// (shutdown(SHUT_WR)) instead of a reset.
	finMidBody := cc.resetAt > 0 && len(reqs[cc.resetAt-1].body) > 1 && cc.rng.IntN(2) == 0

	var nc net.Conn
	var err error
	if cc.slowRead {
		d := net.Dialer{Timeout: 5 * time.Second, Control: rcvbufControl(8192)}
		nc, err = d.Dial("tcp", addr)
	} else {
		nc, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		res.fail("dial: %v", err)
		return
	}
	tc := nc.(*net.TCPConn)

	// The writer sends the requests, one by one (waiting for each final
	// response) or all at once; with Expect it waits for a 1xx, a final
	// response or 300 ms before each body.
	events := make(chan int, 4*len(cc.plans)+4)
	writerDone := make(chan struct{})
	var resetDone atomic.Bool // the writer reset the connection on purpose
	go func() {
		defer close(writerDone)
		for i := range reqs {
			if cc.resetAt == i+1 && finMidBody {
				if cc.write(nc, []byte(reqs[i].head), wrng) {
					_ = cc.write(nc, reqs[i].body[:len(reqs[i].body)/2], wrng)
				}
				_ = tc.CloseWrite()
				return
			}
			if cc.resetAt == i+1 && resetMidRequest {
				_, _ = io.WriteString(nc, reqs[i].head[:len(reqs[i].head)/2])
				resetDone.Store(true)
				_ = tc.SetLinger(0)
				_ = tc.Close()
				return
			}
			if !cc.write(nc, []byte(reqs[i].head), wrng) {
				return
			}
			gotFinal := false
			if len(reqs[i].body) > 0 {
				if cc.expect {
					select {
					case ev := <-events:
						if ev == evStop {
							return
						}
						gotFinal = ev == evFinal
					case <-time.After(300 * time.Millisecond):
					}
				}
				if !cc.write(nc, reqs[i].body, wrng) {
					return
				}
			}
			for !cc.pipeline && !gotFinal {
				select {
				case ev := <-events:
					if ev == evStop {
						return
					}
					gotFinal = ev == evFinal
				case <-time.After(chaosReadDeadline):
					return
				}
			}
			if !cc.pipeline && i+1 < len(reqs) && wrng.IntN(3) == 0 {
				// A pause before the next request: long enough, now
				// and then, for PILB to park the idle client.
				time.Sleep(time.Duration(1+wrng.IntN(40)) * time.Millisecond)
			}
		}
		if cc.halfShut {
			_ = tc.CloseWrite()
		}
	}()
	defer func() {
		events <- evStop
		_ = tc.SetLinger(0)
		_ = tc.Close()
		<-writerDone
	}()

	var rd io.Reader = nc
	if cc.slowRead {
		rd = &slowReader{r: nc, rng: rrng}
	}
	br := bufio.NewReaderSize(rd, 4096)
	for i, p := range cc.plans {
		if cc.resetAt == i+1 && finMidBody {
			_ = nc.SetReadDeadline(time.Now().Add(chaosReadDeadline))
			m, err := chaosRead(br, cc, p, events)
			v := cc.checkFinMidBody(p, m, err)
			if v.kind == vFail {
				res.fail("client %s request %d/%d (%s %s, pipeline=%v http/1.%d chunked=%v expect=%v trickle=%v), body cut short by a FIN: %s",
					nc.LocalAddr(), i+1, len(cc.plans), cc.method(p), p.path(), cc.pipeline, cc.minor, cc.chunked, cc.expect, cc.trickle, v.why)
				return
			}
			res.finMid.Add(1)
			if v.kind == vEnd {
				expectEnded(nc, br, res, "request "+p.path(), "the answer to a body cut short by a FIN")
			}
			return
		}
		if cc.resetAt == i+1 {
			res.reset.Add(1)
			return // the deferred close resets (or the writer did)
		}
		_ = nc.SetReadDeadline(time.Now().Add(chaosReadDeadline))
		m, err := chaosRead(br, cc, p, events)
		if err != nil && resetDone.Load() {
			res.reset.Add(1)
			return
		}
		if err == nil && cc.writeReset.Load() && closeDelimited(m, cc.method(p)) && len(m.body) < p.size {
			// The end of this body may be the reset the writer got:
			// judged as a cut (whose bytes must still be a prefix).
			err = errResetToWriter
			res.cutByW.Add(1)
		}
		verdict := cc.check(p, m, err)
		switch verdict.kind {
		case vFail:
			res.fail("client %s request %d/%d (%s %s, pipeline=%v http/1.%d keep10=%v chunked=%v expect=%v trickle=%v slow=%v half=%v): %s",
				nc.LocalAddr(), i+1, len(cc.plans), cc.method(p), p.path(), cc.pipeline, cc.minor, cc.keep10, cc.chunked,
				cc.expect, cc.trickle, cc.slowRead, cc.halfShut, verdict.why)
			return
		case vCut:
			res.cut.Add(1)
			return
		case vEnd:
			res.answered.Add(1)
			expectEnded(nc, br, res, "request "+p.path(), "a response that ended the connection")
			return
		}
		res.answered.Add(1)
	}
	if cc.halfShut {
		expectEnded(nc, br, res, "a half-closed client", "its last response")
	}
}

// expectEnded checks that nothing more comes on nc after what (a response
// that ended the connection), and that the proxy closes it.
func expectEnded(nc net.Conn, br *bufio.Reader, res *chaosResult, who, what string) {
	_ = nc.SetReadDeadline(time.Now().Add(chaosReadDeadline))
	if b, err := br.ReadByte(); err == nil {
		res.fail("%s: byte %q after %s", who, b, what)
	} else if isTimeout(err) {
		res.fail("%s: connection still open %v after %s", who, chaosReadDeadline, what)
	}
}

// write writes b in one go or trickled.
func (cc *chaosClient) write(nc net.Conn, b []byte, rng *rand.Rand) bool {
	if !cc.trickle {
		_, err := nc.Write(b)
		return cc.wrote(err)
	}
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(3000))
		if _, err := nc.Write(b[:n]); !cc.wrote(err) {
			return false
		}
		b = b[n:]
		if rng.IntN(4) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return true
}

// checkFinMidBody judges the answer to p's request, whose body the client
// cut short with a FIN: PILB's 400; or the backend's answer before the
// body (kEarly's 413), whole; or, once an answer has started, a cut.
func (cc *chaosClient) checkFinMidBody(p *plan, m *msg, err error) verdict {
	if err != nil {
		switch {
		case isTimeout(err):
			return fail("no answer within %v", chaosReadDeadline)
		case m != nil && m.line != "":
			return verdict{kind: vCut} // an answer started, then cut
		}
		return fail("no answer: %v", err)
	}
	switch st := m.status(); {
	case st == 400 && !m.has("X-Id"):
		return verdict{kind: vEnd}
	case p.kind == kEarly && st == 413 && m.get("X-Id") == strconv.Itoa(p.id) && bytes.Equal(m.body, chaosBody(p.id, p.size)):
		return verdict{kind: vEnd}
	}
	return fail("answer %q (X-Id %q, %d body bytes): want PILB's 400", m.line, m.get("X-Id"), len(m.body))
}

// wrote notes a write's error and reports whether the write succeeded.
func (cc *chaosClient) wrote(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		cc.writeReset.Store(true)
	}
	return err == nil
}

var errResetToWriter = errors.New("clean EOF after the writer got a reset")

// closeDelimited reports whether the body of m, the answer to a request
// with method, ended with the connection. A response that has no body
// (a 204 or 304, an answer to HEAD) ends with its head, not with the
// connection, so a reset after it cannot have cut it.
func closeDelimited(m *msg, method string) bool {
	return m != nil && !m.chunked && !m.has("Content-Length") && !bodyless(method, m.status())
}

// slowReader reads a few KB at a time with pauses.
type slowReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > 2048 {
		p = p[:2048]
	}
	if s.rng.IntN(8) == 0 {
		time.Sleep(time.Millisecond)
	}
	return s.r.Read(p)
}

// chaosRead reads the response to p, skipping interim ones, and tells the
// writer of each.
func chaosRead(br *bufio.Reader, cc *chaosClient, p *plan, events chan<- int) (*msg, error) {
	method := cc.method(p)
	for {
		m, err := readResponse(br, method)
		if err != nil {
			return m, err
		}
		if st := m.status(); st >= 100 && st < 200 {
			if cc.minor == 0 {
				return m, errors.New("an HTTP/1.0 client got an interim response")
			}
			events <- evInterim
			continue
		}
		events <- evFinal
		return m, nil
	}
}

type verdictKind int

const (
	vOK  verdictKind = iota // answered right; the connection goes on
	vEnd                    // answered right; the connection ends here
	vCut                    // a cut response, seen as cut; the connection is dead
	vFail
)

type verdict struct {
	kind verdictKind
	why  string
}

func fail(format string, args ...any) verdict {
	return verdict{kind: vFail, why: fmt.Sprintf(format, args...)}
}

// check judges the response m (or the error err) to p, the i-th request.
func (cc *chaosClient) check(p *plan, m *msg, err error) verdict {
	method := cc.method(p)
	head := method == "HEAD"
	if err != nil {
		if isTimeout(err) {
			return fail("no response within %v (a hang or a lost response): %v", chaosReadDeadline, err)
		}
		if p.kind == kTruncate || p.kind == kStall {
			// The cut must show, and what came must be a prefix.
			if m != nil && m.status() == p.status && len(m.body) > 0 && !bytes.HasPrefix(chaosBody(p.id, p.size), m.body) {
				return fail("cut body is not a prefix of the right one (%d bytes)", len(m.body))
			}
			return verdict{kind: vCut}
		}
		return fail("read error: %v (got %v)", err, headLine(m))
	}
	st := m.status()
	closes := strings.EqualFold(m.get("Connection"), "close") || cc.minor == 0 && !strings.EqualFold(m.get("Connection"), "keep-alive")
	end := func(v verdict) verdict {
		if v.kind == vOK && closes {
			v.kind = vEnd
		}
		return v
	}
	own := func(want int) verdict {
		if st != want {
			return fail("status %d, want PILB's %d (%q)", st, want, m.head)
		}
		if m.has("X-Id") {
			return fail("PILB's %d carries a backend's X-Id %q", want, m.get("X-Id"))
		}
		if head && len(m.body) > 0 {
			return fail("PILB's %d to HEAD has a body", want)
		}
		return end(verdict{})
	}
	if m.get("X-Id") != "" && m.get("X-Id") != strconv.Itoa(p.id) {
		return fail("response for request %s answers request id %s: mixed up", p.path(), m.get("X-Id"))
	}
	if st == 599 {
		return fail("the backend got a bad request body: %q", m.line)
	}
	switch p.kind {
	case kNoAnswer, kGarbage:
		return own(502)
	case kTimeout:
		return own(504)
	case kTruncate, kStall:
		if head {
			// Nothing of a body is sent to HEAD: the answer is whole.
			if st != p.status {
				return fail("HEAD: status %d, want %d", st, p.status)
			}
			return end(verdict{})
		}
		return fail("a cut response looks complete: %q, %d body bytes of %d", m.line, len(m.body), p.size)
	case kEarly:
		if st != 413 || m.get("X-Id") != strconv.Itoa(p.id) {
			return fail("early answer: %q", m.line)
		}
		if !head && !bytes.Equal(m.body, chaosBody(p.id, p.size)) {
			return fail("early answer body: %d bytes, want %d", len(m.body), p.size)
		}
		return end(verdict{})
	}
	if st != p.status || m.get("X-Id") != strconv.Itoa(p.id) {
		return fail("status %q (X-Id %q), want %d from the backend", m.line, m.get("X-Id"), p.status)
	}
	want := chaosBody(p.id, p.size)
	if head || p.kind == kNoBody {
		want = nil
	}
	if !bytes.Equal(m.body, want) {
		return fail("body: %d bytes, want %d (first difference at %d)", len(m.body), len(want), firstDiff(m.body, want))
	}
	if cc.minor == 0 && m.chunked {
		return fail("an HTTP/1.0 client got a chunked body")
	}
	if p.framing == 'c' && !head && p.kind == kOK && cc.minor == 1 && m.trailerValue("X-Trailer-Id") != strconv.Itoa(p.id) {
		return fail("chunked trailer lost: %v", m.trailer)
	}
	if p.framing == 'x' && p.kind == kOK && !head {
		return verdict{kind: vEnd}
	}
	return end(verdict{})
}

func headLine(m *msg) string {
	if m == nil {
		return "nothing"
	}
	return strconv.Quote(m.line)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestChaos runs the chaos clients against PILB and scripted backends, in
// a child process so that descriptors and memory can be compared with a
// baseline.
func TestChaos(t *testing.T) {
	if childOf(t) {
		chaosScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 8*time.Minute)
}

func chaosScenario(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		if s, err := strconv.ParseUint(os.Getenv("PILB_CHAOS_SEED"), 10, 64); err == nil {
			seed = s
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	conns := *chaosConns
	if conns == 0 {
		conns = 400
		if testing.Short() || raceEnabled {
			conns = 150
		}
	}
	parallel := 24
	if raceEnabled {
		chaosBackendTimeout *= 3
		chaosIdleTimeout *= 3
		chaosOvershoot *= 3
		chaosReadDeadline *= 3
		parallel = 12
	}
	t.Logf("chaos: seed %d, %d connections (reproduce: go test ./engine -run TestChaos -chaos.seed %d -chaos.conns %d)", seed, conns, seed, conns)

	fds0, rss0 := baselineFDs(t), rssBytes()

	backends := make([]string, 3)
	var servers []*scripted
	for i := range backends {
		// The first backend has a small receive window: request bodies
		// wait in PILB, which pauses their clients.
		s := startScriptedRcvbuf(t, chaosBackend, []int{8 << 10, 0, 0}[i])
		servers = append(servers, s)
		backends[i] = s.Addr()
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	cfg := e2eConfig()
	cfg.Backends = setOf(t, backends...)
	cfg.BackendTimeout = chaosBackendTimeout
	cfg.IdleTimeout = chaosIdleTimeout
	cfg.HeaderTimeout = chaosIdleTimeout
	cfg.HighWater = []int{8 << 10, 64 << 10, 256 << 10}[rng.IntN(3)]
	cfg.ConnsPerBackend = rng.IntN(3)
	cfg.Logger = testLogger()
	// Drawn apart, so that the scenario a seed gives does not change.
	cfg.ParkAfter = []time.Duration{time.Millisecond, 20 * time.Millisecond, DefaultParkAfter}[rand.New(rand.NewPCG(seed, 1)).IntN(3)]
	if *chaosOps || os.Getenv("PILB_CHAOS_OPS") != "" {
		cfg.Metrics = true
		cfg.AccessLog = NewAccessLog(io.Discard, AccessLogJSON, nil)
		t.Cleanup(func() { cfg.AccessLog.Close() })
		t.Logf("chaos: metrics and access log on")
	}
	var s *Server
	if *chaosListener || os.Getenv("PILB_CHAOS_LISTENER") != "" {
		t.Logf("chaos: PILB's own accept loop")
		s = startOnListener(t, cfg, listenTCP(t))
	} else {
		s = startProxy(t, cfg)
	}
	t.Logf("chaos: high water %d, %d pre-dialed per backend, parked after %v idle", cfg.HighWater, cfg.ConnsPerBackend, cfg.ParkAfter)

	res := &chaosResult{srv: s}
	clients := make(chan *chaosClient)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cc := range clients {
				cc.run(s.Addr(), res)
			}
		}()
	}
	start := time.Now()
	for range conns {
		// Each client gets its own generator, seeded from the test's, so
		// that a client's script does not depend on scheduling.
		clients <- newChaosClient(rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())))
	}
	close(clients)
	wg.Wait()
	t.Logf("chaos: %d responses checked, %d cut responses seen as cut (%d of them by the writer), %d connections reset by the client, in %v",
		res.answered.Load(), res.cut.Load(), res.cutByW.Load(), res.reset.Load(), time.Since(start).Round(time.Millisecond))
	for _, f := range res.failures {
		t.Error(f)
	}
	t.Logf("chaos: %d pauses, %d parks, %d bodies cut short by a FIN answered right", s.pauses.Load(), s.parks.Load(), res.finMid.Load())
	if n := s.Panics(); n != 0 {
		t.Errorf("%d panics recovered", n)
	}

	// Every client has closed: the proxy must let go of all of them.
	if !eventually(10*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Errorf("%d clients still open in the proxy after every client closed", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
	shutdownClean(t, s)
	for _, sv := range servers {
		sv.stop()
	}
	runtime.GC()
	debug.FreeOSMemory()
	if !eventually(10*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Errorf("descriptors: %d open after the run, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
	rss := rssBytes()
	t.Logf("chaos: RSS %.1f MB before, %.1f MB after", float64(rss0)/1e6, float64(rss)/1e6)
	if rss > rss0+48<<20 && !raceEnabled { // the race detector's shadow memory stays
		t.Errorf("RSS %.1f MB after the run, %.1f MB before", float64(rss)/1e6, float64(rss0)/1e6)
	}
}

// runTunnel plays an upgrade: the 101 must carry the request's id, and
// every byte sent through the tunnel must come back, in order. A client
// that half-closes after sending must get the rest of the echo and then
// the end (PILB passes the end of its output on to the backend).
func (cc *chaosClient) runTunnel(addr string, res *chaosResult) {
	p := cc.plans[0]
	wrng := rand.New(rand.NewPCG(cc.rng.Uint64(), 1))
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		res.fail("dial: %v", err)
		return
	}
	tc := nc.(*net.TCPConn)
	defer func() {
		_ = tc.SetLinger(0)
		_ = tc.Close()
	}()
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "i/o timeout") && res.srv != nil {
			msg += "; PILB's tunnels at that moment:" + tunnelStates(res.srv)
		}
		res.fail("tunnel client %s (%s, slow=%v half=%v trickle=%v): %s", nc.LocalAddr(), p.path(), cc.slowRead, cc.halfShut, cc.trickle, msg)
	}
	_ = nc.SetDeadline(time.Now().Add(3 * chaosReadDeadline))
	if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: chaos\r\nConnection: Upgrade\r\nUpgrade: chaos\r\n\r\n", p.path()); err != nil {
		fail("write: %v", err)
		return
	}
	var rd io.Reader = nc
	if cc.slowRead {
		rd = &slowReader{r: nc, rng: rand.New(rand.NewPCG(cc.rng.Uint64(), 2))}
	}
	br := bufio.NewReaderSize(rd, 4096)
	m, err := readHead(br)
	if err != nil || m.status() != 101 || m.get("X-Id") != strconv.Itoa(p.id) {
		fail("upgrade answer %v, %v", headLine(m), err)
		return
	}
	want := chaosBody(p.id, p.size)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		send := want
		if cc.resetAt == 1 {
			send = send[:len(send)/2]
		}
		if !cc.write(nc, send, wrng) {
			return
		}
		if cc.resetAt == 1 {
			_ = tc.SetLinger(0)
			_ = tc.Close()
			return
		}
		if cc.halfShut {
			_ = tc.CloseWrite()
		}
	}()
	got := make([]byte, len(want))
	n, err := io.ReadFull(br, got)
	<-wrote
	if cc.resetAt == 1 {
		res.reset.Add(1)
		return
	}
	if err != nil {
		fail("echo: %d of %d bytes: %v", n, len(want), err)
		return
	}
	if !bytes.Equal(got, want) {
		fail("echo differs at byte %d", firstDiff(got, want))
		return
	}
	res.answered.Add(1)
	if cc.halfShut {
		if b, err := br.ReadByte(); err == nil {
			fail("byte %q after the echo", b)
		} else if isTimeout(err) {
			fail("tunnel not closed after a half-close and the whole echo")
		}
	}
}

// TestCloseDelimited keeps the chaos checker from taking a bodyless
// answer for a cut one: seed 906 once got a whole 204 judged as cut
// because its client's writer had got a reset.
func TestCloseDelimited(t *testing.T) {
	for _, tc := range []struct {
		head, method string
		want         bool
	}{
		{"HTTP/1.1 200 OK\r\n", "GET", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", "GET", false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", "GET", false},
		{"HTTP/1.1 200 OK\r\n", "HEAD", false},
		{"HTTP/1.1 204 No Content\r\n", "GET", false},
		{"HTTP/1.1 304 Not Modified\r\n", "GET", false},
	} {
		m, err := readHead(bufio.NewReader(strings.NewReader(tc.head + "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		m.chunked = m.has("Transfer-Encoding")
		if got := closeDelimited(m, tc.method); got != tc.want {
			t.Errorf("%q to %s: close-delimited %v, want %v", tc.head, tc.method, got, tc.want)
		}
	}
}
