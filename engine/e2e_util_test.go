package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/internal/demobackend"
)

// This file holds what the end-to-end tests (e2e_*_test.go) share beyond
// helpers_test.go: a raw HTTP/1.1 message reader that keeps every field
// line as sent, scripted raw-TCP backends, and pattern checks for the demo
// backend's /bytes and /chunked bodies.

// e2eConfig is the engine configuration of the end-to-end tests: two
// loops, so that rotation and pools are exercised across loops, and a
// short linger so that closes do not hold up Shutdown.
//
// ConnectTimeout is generous: under -race on two cores, with the suite's
// tests running in parallel, a dial goroutine may wait long for a CPU, and
// a loopback connect that "times out" so would fail tests for nothing. The
// tests that need a failed connect use a port nothing listens on, which is
// refused at once.
func e2eConfig() Config {
	return Config{Loops: 2, ConnectTimeout: 5 * time.Second, LingerTimeout: 500 * time.Millisecond}
}

// recvWithin receives from ch, failing the test after d.
func recvWithin[T any](t testing.TB, ch <-chan T, d time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("nothing received within %v", d)
		panic("unreachable")
	}
}

// msg is one HTTP/1.1 message read off the wire with its field lines kept
// in order and unmodified (net/http drops Connection: close and
// Transfer-Encoding from its Header map, and those are what many tests
// look at).
type msg struct {
	head    string      // the whole head, start line to the empty line
	line    string      // start line without CRLF
	fields  [][2]string // field lines, name and value (OWS trimmed)
	body    []byte      // the body, chunk framing removed
	trailer [][2]string // trailer fields of a chunked body
	chunked bool        // the body was chunked
	rawBody []byte      // the body bytes as they came, framing included
}

// all returns the values of every field line called name.
func (m *msg) all(name string) []string {
	var out []string
	for _, f := range m.fields {
		if strings.EqualFold(f[0], name) {
			out = append(out, f[1])
		}
	}
	return out
}

// get returns the values of name joined as one list (RFC 9110 §5.3).
func (m *msg) get(name string) string { return strings.Join(m.all(name), ", ") }

func (m *msg) has(name string) bool { return len(m.all(name)) > 0 }

// status returns a response's status code, or 0 for a bad status line.
func (m *msg) status() int {
	parts := strings.SplitN(m.line, " ", 3)
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

// trailerValue returns the value of the trailer field name.
func (m *msg) trailerValue(name string) string {
	for _, f := range m.trailer {
		if strings.EqualFold(f[0], name) {
			return f[1]
		}
	}
	return ""
}

// readLine reads one CRLF-terminated line and returns it without the CRLF.
func readLine(br *bufio.Reader) (string, error) {
	s, err := br.ReadString('\n')
	if err != nil {
		if err == io.EOF && s != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("line %q does not end in CRLF", s)
	}
	return s[:len(s)-2], nil
}

// readHead reads a message head.
func readHead(br *bufio.Reader) (*msg, error) {
	m := &msg{}
	var head strings.Builder
	for {
		l, err := readLine(br)
		if err != nil {
			return nil, err
		}
		head.WriteString(l + "\r\n")
		if m.line == "" {
			if l == "" {
				return nil, errors.New("empty start line")
			}
			m.line = l
			continue
		}
		if l == "" {
			break
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("field line %q has no colon", l)
		}
		m.fields = append(m.fields, [2]string{name, strings.Trim(value, " \t")})
	}
	m.head = head.String()
	return m, nil
}

// readChunkedBody reads a chunked body into m: data, trailer and the raw
// bytes.
func readChunkedBody(br *bufio.Reader, m *msg) error {
	m.chunked = true
	var raw bytes.Buffer
	for {
		l, err := readLine(br)
		if err != nil {
			return err
		}
		raw.WriteString(l + "\r\n")
		sz, _, _ := strings.Cut(l, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size line %q", l)
		}
		if n == 0 {
			break
		}
		start := len(m.body)
		m.body = append(m.body, make([]byte, n)...)
		if k, err := io.ReadFull(br, m.body[start:]); err != nil {
			m.body = m.body[:start+k]
			return err
		}
		raw.Write(m.body[start:])
		if l, err := readLine(br); err != nil || l != "" {
			return fmt.Errorf("chunk data not followed by CRLF (%q, %v)", l, err)
		}
		raw.WriteString("\r\n")
	}
	for {
		l, err := readLine(br)
		if err != nil {
			return err
		}
		raw.WriteString(l + "\r\n")
		if l == "" {
			break
		}
		name, value, _ := strings.Cut(l, ":")
		m.trailer = append(m.trailer, [2]string{name, strings.Trim(value, " \t")})
	}
	m.rawBody = raw.Bytes()
	return nil
}

func readRequestBody(br *bufio.Reader, m *msg) error {
	switch {
	case strings.Contains(strings.ToLower(m.get("Transfer-Encoding")), "chunked"):
		return readChunkedBody(br, m)
	case m.has("Content-Length"):
		n, err := strconv.ParseInt(m.get("Content-Length"), 10, 64)
		if err != nil {
			return err
		}
		m.body = make([]byte, n)
		_, err = io.ReadFull(br, m.body)
		m.rawBody = m.body
		return err
	}
	return nil
}

// bodyless reports whether a response with status st to a request with
// method has no body, whatever its head says (RFC 9112 §6.3).
func bodyless(method string, st int) bool {
	return method == "HEAD" || st/100 == 1 || st == 204 || st == 304
}

// readResponse reads a response to a request with method, framed as RFC
// 9112 §6.3 says: no body for HEAD, 1xx, 204 and 304; chunked; Content-
// Length; otherwise until the server closes.
func readResponse(br *bufio.Reader, method string) (*msg, error) {
	m, err := readHead(br)
	if err != nil {
		return nil, err
	}
	switch {
	case bodyless(method, m.status()):
	case m.has("Transfer-Encoding"):
		if !strings.HasSuffix(strings.ToLower(m.get("Transfer-Encoding")), "chunked") {
			m.body, err = io.ReadAll(br)
			m.rawBody = m.body
			return m, err
		}
		return m, readChunkedBody(br, m)
	case m.has("Content-Length"):
		n, err := strconv.ParseInt(m.get("Content-Length"), 10, 64)
		if err != nil {
			return m, err
		}
		m.body = make([]byte, n)
		k, err := io.ReadFull(br, m.body)
		m.body = m.body[:k]
		m.rawBody = m.body
		return m, err
	default:
		m.body, err = io.ReadAll(br)
		m.rawBody = m.body
		return m, err
	}
	return m, nil
}

// resp reads a response from the raw client and fails the test on error.
func (c *rawConn) resp(method string) *msg {
	c.t.Helper()
	m, err := readResponse(c.r, method)
	if err != nil {
		c.t.Fatalf("read %s response: %v", method, err)
	}
	return m
}

// roundTrip sends req and reads its response.
func (c *rawConn) roundTrip(method, req string) *msg {
	c.t.Helper()
	c.send(req)
	return c.resp(method)
}

// expectStatus fails the test unless m has status code want.
func expectStatus(t testing.TB, m *msg, want int) {
	t.Helper()
	if got := m.status(); got != want {
		t.Fatalf("status line %q, want %d\nhead:\n%s", m.line, want, m.head)
	}
}

// expectOpen asserts that the connection is still usable: a GET / on it
// gets a 200.
func (c *rawConn) expectOpen() {
	c.t.Helper()
	m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: open.test\r\n\r\n")
	expectStatus(c.t, m, 200)
}

// scripted is a raw-TCP backend whose connections are served by a test's
// function, for the answers a correct server never gives.
type scripted struct {
	t     testing.TB
	ln    net.Listener
	serve func(*bconn)

	conns  atomic.Int64 // connections accepted
	heads  atomic.Int64 // request heads read
	closed atomic.Int64 // connections the peer (PILB) closed

	mu   sync.Mutex
	open map[net.Conn]struct{}
	reqs []*msg
	wg   sync.WaitGroup
}

// bconn is one connection to a scripted backend.
type bconn struct {
	net.Conn
	s  *scripted
	br *bufio.Reader
	n  int64 // 1 for the first connection accepted
}

// startScripted starts a scripted backend on a free loopback port; serve
// runs in its own goroutine per connection, which is closed when serve
// returns. Everything is closed at the end of the test.
func startScripted(t testing.TB, serve func(c *bconn)) *scripted {
	t.Helper()
	return startScriptedRcvbuf(t, serve, 0)
}

// startScriptedRcvbuf is startScripted with SO_RCVBUF set to rcvbuf on the
// accepted connections (0: the system's): a small receive window makes
// PILB hold what it sends the backend, and pause the client.
func startScriptedRcvbuf(t testing.TB, serve func(c *bconn), rcvbuf int) *scripted {
	t.Helper()
	var lc net.ListenConfig
	if rcvbuf > 0 {
		lc.Control = rcvbufControl(rcvbuf)
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{t: t, ln: ln, serve: serve, open: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.stop)
	return s
}

func (s *scripted) Addr() string { return s.ln.Addr().String() }

func (s *scripted) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		n := s.conns.Add(1)
		s.mu.Lock()
		s.open[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.open, c)
				s.mu.Unlock()
				c.Close()
			}()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			s.serve(&bconn{Conn: c, s: s, br: bufio.NewReader(c), n: n})
		}()
	}
}

// stop closes the listener and every open connection and waits for the
// serve goroutines.
func (s *scripted) stop() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// requests returns the requests read so far.
func (s *scripted) requests() []*msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*msg(nil), s.reqs...)
}

// readRequest reads one request (head and body) and records it. On EOF it
// counts the connection as closed by the peer.
func (c *bconn) readRequest() (*msg, error) {
	m, err := readHead(c.br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			c.s.closed.Add(1)
		}
		return nil, err
	}
	c.s.heads.Add(1)
	c.s.mu.Lock()
	c.s.reqs = append(c.s.reqs, m)
	c.s.mu.Unlock()
	if err := readRequestBody(c.br, m); err != nil {
		return m, err
	}
	return m, nil
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func (c *bconn) write(s string) error {
	_, err := io.WriteString(c.Conn, s)
	return err
}

// serveOK answers every request with 200 "ok", keep-alive, until the peer
// closes: the well-behaved scripted backend.
func serveOK(c *bconn) {
	for {
		if _, err := c.readRequest(); err != nil {
			return
		}
		if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
			return
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// eventually polls cond every 5ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// patternAlphabet is one period of the demo backend's body pattern:
// body byte i is patternAlphabet[i%64].
var patternAlphabet = demobackend.PatternBody(64)

// patternBuf is the pattern over 1 MiB plus a period, so that any window of
// up to 1 MiB at any phase is a sub-slice of it.
var patternBuf = demobackend.PatternBody(1<<20 + 64)

// patternWindow returns the n pattern bytes that start at body offset off;
// n is at most 1 MiB.
func patternWindow(off int64, n int) []byte {
	s := int(off % 64)
	return patternBuf[s : s+n]
}

// checkPattern reports whether b is the pattern body starting at offset
// off, comparing in windows so that the race detector does not see every
// byte.
func checkPattern(b []byte, off int64) error {
	for len(b) > 0 {
		n := min(len(b), 1<<20)
		if !bytes.Equal(b[:n], patternWindow(off, n)) {
			for i := range n {
				if b[i] != patternAlphabet[(off+int64(i))%64] {
					return fmt.Errorf("body byte %d is %q, want %q", off+int64(i), b[i], patternAlphabet[(off+int64(i))%64])
				}
			}
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// heapInuse returns the heap in use after two collections: the second
// empties sync.Pool victim caches, where an earlier test's buffers (gnet
// pools them) would otherwise hide what a new one allocates.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// dialRawSmallRcv dials addr with a small receive buffer set before the
// connect, so that the TCP window stays small and a slow reader pushes
// back at once.
func dialRawSmallRcv(t testing.TB, addr string, rcvbuf int) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: rcvbufControl(rcvbuf)}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, Conn: c, r: bufio.NewReaderSize(c, 4096)}
}

// rcvbufControl sets SO_RCVBUF to n on a socket before it connects or
// listens (a listener's accepted sockets inherit it).
func rcvbufControl(n int) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// deadlineIn returns the instant sec seconds from now.
func deadlineIn(sec int) time.Time { return time.Now().Add(time.Duration(sec) * time.Second) }

// childEnv names the test a child process runs (see runIsolated).
const childEnv = "PILB_E2E_CHILD"

// runIsolated runs the calling test again in a child process (the test
// binary, with -test.run naming it and childEnv set, which the test checks
// to run its scenario) and fails if the child fails or is still running
// after d. It isolates scenarios that can wedge an event loop: a stuck
// loop also blocks Shutdown, which would hang the whole suite.
func runIsolated(t *testing.T, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v", "-test.timeout=" + (2 * d).String()}
	// The scenario's own flags (-chaos.conns, -chaos.seed...) reach the
	// child as they were given.
	flag.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "chaos.") {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("scenario still running after %v, killed: an event loop is stuck (child output:\n%s)", d, tail(out, failTail))
	}
	if err != nil {
		t.Fatalf("scenario failed: %v\n%s", err, tail(out, failTail))
	}
	// What the scenario said of itself (its seed, its counts), for -v.
	for line := range strings.Lines(string(out)) {
		if l := strings.TrimSpace(line); strings.Contains(l, ".go:") && !strings.HasPrefix(l, "---") {
			t.Log(l)
		}
	}
}

// failTail is how much of an isolated scenario's output its failure
// shows: enough for a chaos tunnel's dump (tunnelStates).
const failTail = 20000

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// shutdownClean drains s once every client of the test has closed: no
// connection may be left behind (a leaked client would hold the drain until
// the deadline).
func shutdownClean(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after every client closed: %v (%d clients left)", err, s.clients.Load())
	}
}

// shutdownAsync starts s.Shutdown with a 10 s drain in the background and
// returns its result.
func shutdownAsync(s *Server) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	return done
}

// childOf reports whether this process is the child runIsolated started
// for t.
func childOf(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// runnable wraps f as a gnet task.
func runnable(f func()) gnet.Runnable {
	return gnet.RunnableFunc(func(context.Context) error { f(); return nil })
}

// nowNano is the clock the engine and pool use (Unix nanoseconds).
func nowNano() int64 { return time.Now().UnixNano() }

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents) - 1 // the directory being read
}

// baselineFDs counts this process's open descriptors once the runtime's
// own (the netpoller's) exist, so that a scenario's first socket does not
// count as a leak.
func baselineFDs(t testing.TB) int {
	t.Helper()
	if warm, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		warm.Close()
	}
	return openFDs(t)
}

// fdList describes the open descriptors, for a failure message.
func fdList(t testing.TB) string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// rssBytes returns the resident set size of this process.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// checkLoopsQuiet checks, on each loop, that nothing is left of the
// clients that have all closed: no client listed, nothing watched, no
// deadline in the wheel but those of backend connections, nothing queued.
// A closed connection may stay watched until the next drain poll, so it
// looks again for a while before it fails.
func checkLoopsQuiet(t testing.TB, s *Server) {
	t.Helper()
	var problems string
	quiet := eventually(3*time.Second, func() bool {
		problems = loopProblems(t, s)
		return problems == ""
	})
	if !quiet {
		t.Errorf("loop not quiet: %s", problems)
	}
}

func loopProblems(t testing.TB, s *Server) string {
	t.Helper()
	var all []string
	for _, l := range loopsOf(s) {
		done := make(chan string, 1)
		err := l.el.Execute(context.Background(), runnable(func() {
			var problems []string
			for _, cl := range l.clients {
				problems = append(problems, fmt.Sprintf("client listed: phase %v, socket %v (eof %v, held %d, watched %v, opens %d), stash %d, reqDone %v, bound %v, timer %v, respStarted %v, keepAlive %v, http/1.%d, tries %d, queued %v, upgrade %v",
					cl.phase, cl.sock.st, cl.sock.eof, cl.sock.heldLen(), cl.sock.watched, cl.sock.opens, cl.stash.len(), cl.reqDone, cl.be != nil, cl.tm.linked(), cl.respStarted, cl.keepAlive, cl.minor, cl.tries, cl.ops.queued, cl.upgrade))
			}
			if len(l.watch) != 0 {
				problems = append(problems, fmt.Sprintf("%d connections watched", len(l.watch)))
			}
			if len(l.gone) != 0 {
				problems = append(problems, fmt.Sprintf("%d teardowns queued", len(l.gone)))
			}
			if r := &l.reopens; r.running != 0 || r.queue.len() != 0 {
				problems = append(problems, fmt.Sprintf("%d reopens under way, %d waiting", r.running, r.queue.len()))
			}
			timers := 0
			for _, be := range l.backends {
				if be.tm.linked() {
					timers++
				}
				if be.cl != nil || be.phase != bpIdle {
					problems = append(problems, fmt.Sprintf("backend connection in phase %v, socket %v, bound=%v", be.phase, be.sock.st, be.cl != nil))
				}
			}
			if n := l.wheel.len(); n != timers {
				problems = append(problems, fmt.Sprintf("%d timers in the wheel, %d of them for backends", n, timers))
			}
			done <- strings.Join(problems, "; ")
		}))
		if err != nil {
			t.Fatal(err)
		}
		if p := recvWithin(t, done, 5*time.Second); p != "" {
			all = append(all, p)
		}
	}
	return strings.Join(all, " | ")
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
