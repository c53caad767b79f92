package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Regression tests for the defects of the hardening issue (#7), each over
// real sockets, each reproduced against the build before the fix.

// blockLoop runs a task on every loop of s that sleeps for d, and returns
// once each has started: while they sleep, events pile up in epoll and are
// then handled in the order they arrived, in one batch.
func blockLoop(t testing.TB, s *Server, d time.Duration) {
	t.Helper()
	var started sync.WaitGroup
	for _, l := range loopsOf(s) {
		started.Add(1)
		err := l.el.Execute(context.Background(), runnable(func() {
			started.Done()
			time.Sleep(d)
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	started.Wait()
}

// resetConn closes c with an RST (SO_LINGER 0).
func resetConn(t testing.TB, c net.Conn) {
	t.Helper()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// TestE2EInterimRacesClientReset: a backend's 100 Continue is handled in
// the same epoll batch as, and after, the client's reset. The write of the
// 1xx fails and closes the client inside the backend's callback; nothing
// may touch either connection afterwards (this killed the process), and
// the proxy goes on serving.
func TestE2EInterimRacesClientReset(t *testing.T) {
	if childOf(t) {
		interimRaceScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 30*time.Second)
}

func interimRaceScenario(t *testing.T) {
	type step struct{ got, send chan struct{} }
	steps := make(chan step, 1)
	be := startScripted(t, func(c *bconn) {
		for {
			if _, err := readHead(c.br); err != nil {
				return
			}
			st := <-steps
			close(st.got)
			<-st.send
			if c.write("HTTP/1.1 100 Continue\r\n\r\n") != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for i := range 20 {
		st := step{got: make(chan struct{}), send: make(chan struct{})}
		steps <- st
		c := dialRaw(t, s.Addr())
		c.send("POST /up HTTP/1.1\r\nHost: r\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
		recvWithin(t, st.got, 5*time.Second)
		var blocked sync.WaitGroup
		blocked.Add(1)
		go func() {
			defer blocked.Done()
			blockLoop(t, s, 100*time.Millisecond)
		}()
		time.Sleep(10 * time.Millisecond) // the loop sleeps
		close(st.send)                    // the 1xx reaches PILB's socket first
		time.Sleep(20 * time.Millisecond)
		resetConn(t, c.Conn) // then the reset
		blocked.Wait()
		// The proxy serves the next client.
		d := dialRaw(t, s.Addr())
		ok := step{got: make(chan struct{}), send: make(chan struct{})}
		close(ok.send)
		steps <- ok
		d.send("GET / HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
		m := d.resp("GET")
		if m.status() == 100 {
			m = d.resp("GET")
		}
		if m.status() != 200 {
			t.Fatalf("round %d: the next client got %q", i, m.line)
		}
	}
	if n := s.Panics(); n != 0 {
		t.Fatalf("%d panics recovered", n)
	}
}

// TestE2EOwnAnswersToHEADHaveNoBody: every answer PILB writes itself to a
// HEAD request keeps its Content-Length but carries no body, so the next
// response on a kept-alive connection starts where it should.
func TestE2EOwnAnswersToHEADHaveNoBody(t *testing.T) {
	t.Parallel()
	silent := startScripted(t, func(c *bconn) {
		if _, err := readHead(c.br); err != nil {
			return
		}
		time.Sleep(3 * time.Second)
	})
	closing := startScripted(t, func(c *bconn) { _, _ = readHead(c.br) })
	for _, tc := range []struct {
		name    string
		backend string
		status  int
	}{
		{"504 backend timeout", silent.Addr(), 504},
		{"502 backend closed", closing.Addr(), 502},
		{"503 no backend", "", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := e2eConfig()
			cfg.BackendTimeout = 300 * time.Millisecond
			if tc.backend == "" {
				cfg.Backends = setOf(t)
			} else {
				cfg.Backends = setOf(t, tc.backend)
			}
			s := startProxy(t, cfg)
			c := dialRaw(t, s.Addr())
			m := c.roundTrip("HEAD", "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n")
			expectStatus(t, m, tc.status)
			if !m.has("Content-Length") {
				t.Errorf("no Content-Length in %q", m.head)
			}
			// Nothing follows the head: the connection is either closed
			// or quiet.
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if b, err := c.r.ReadByte(); err == nil {
				rest, _ := c.r.Peek(c.r.Buffered())
				t.Fatalf("bytes after the head of the answer to HEAD: %q", string(b)+string(rest))
			}
		})
	}
}

// TestE2EPipelinedInputPastHighWaterKeepsResponses: with more than
// HighWater of pipelined input waiting (the client is paused), a backend
// that answers the first request with Connection: close and closes at once
// gets its answer delivered whole; so does a close-delimited body.
func TestE2EPipelinedInputPastHighWaterKeepsResponses(t *testing.T) {
	t.Parallel()
	const bodyB = 300_000
	for _, tc := range []struct {
		name   string
		answer string // the answer to GET /a
		bodyA  int
		closes bool // the client connection ends after /a
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", 5, false},
		{"until-close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + strings.Repeat("z", 227_146), 227_146, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startScripted(t, func(c *bconn) {
				m, err := c.readRequest()
				if err != nil {
					return
				}
				if strings.HasPrefix(m.line, "GET /a ") {
					_ = c.write(tc.answer)
					return // close
				}
				_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(m.body)) + "\r\n\r\n")
				_, _ = c.Write(m.body)
			})
			cfg := e2eConfig()
			cfg.Backends = setOf(t, be.Addr())
			s := startProxy(t, cfg)
			for round := range 5 {
				c := dialRaw(t, s.Addr())
				req := "GET /a HTTP/1.1\r\nHost: p\r\n\r\n" +
					"POST /b HTTP/1.1\r\nHost: p\r\nContent-Length: " + strconv.Itoa(bodyB) + "\r\n\r\n" + strings.Repeat("b", bodyB)
				go func() { _, _ = io.WriteString(c.Conn, req) }()
				m := c.resp("GET")
				expectStatus(t, m, 200)
				if len(m.body) != tc.bodyA {
					t.Fatalf("round %d: /a body %d bytes, want %d", round, len(m.body), tc.bodyA)
				}
				if tc.closes {
					c.expectEOF()
					continue
				}
				m = c.resp("POST")
				expectStatus(t, m, 200)
				if len(m.body) != bodyB {
					t.Fatalf("round %d: /b body %d bytes, want %d", round, len(m.body), bodyB)
				}
			}
		})
	}
}

// TestE2ELaterFailureKeepsEarlierResponse: a complete response still on its
// way to a slow client is delivered whole when a later pipelined request
// fails, whatever the failure; then the connection ends.
func TestE2ELaterFailureKeepsEarlierResponse(t *testing.T) {
	t.Parallel()
	// Larger than what the kernel buffers for a client that does not read,
	// smaller than HighWater: the response is complete, most of it in PILB's
	// own output, before the next request is dispatched.
	const big = 8_000_000
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(m.line, "GET /big "):
				_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(big) + "\r\n\r\n" + strings.Repeat("B", big))
			case strings.HasPrefix(m.line, "GET /die "):
				_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
				return
			case strings.HasPrefix(m.line, "GET /slow "):
				time.Sleep(2 * time.Second)
				return
			}
		}
	})
	for _, tc := range []struct {
		name, second string
	}{
		{"bad request", "GET /x HTTP/1.1\r\nHost: l\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
		{"backend dies mid-response", "GET /die HTTP/1.1\r\nHost: l\r\n\r\n"},
		{"backend timeout", "GET /slow HTTP/1.1\r\nHost: l\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := e2eConfig()
			cfg.Backends = setOf(t, be.Addr())
			cfg.BackendTimeout = 300 * time.Millisecond
			cfg.HighWater = 32 << 20
			s := startProxy(t, cfg)
			for round := range 3 {
				c := dialRawSmallRcv(t, s.Addr(), 4096)
				c.send("GET /big HTTP/1.1\r\nHost: l\r\n\r\n" + tc.second)
				time.Sleep(700 * time.Millisecond) // the second one fails meanwhile
				m := c.resp("GET")
				expectStatus(t, m, 200)
				if len(m.body) != big || bytes.Count(m.body, []byte("B")) != big {
					t.Fatalf("round %d: /big body %d bytes, want %d", round, len(m.body), big)
				}
				// What follows is an error answer, a cut response or the
				// end: never a clean end of something incomplete.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				m2, err := readResponse(c.r, "GET")
				if err == nil && m2.status() == 200 {
					t.Fatalf("round %d: second response looks complete: %q (%d body bytes)", round, m2.line, len(m2.body))
				}
			}
		})
	}
}

// TestE2EPoisonRequestEjectsNoBackend: a request that makes every backend
// close the connection without answering fails (502) without taking a
// backend out of rotation: the healthy requests right after it all succeed.
func TestE2EPoisonRequestEjectsNoBackend(t *testing.T) {
	t.Parallel()
	serve := func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.HasPrefix(m.line, "GET /poison ") {
				return
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
				return
			}
		}
	}
	var addrs []string
	for range 3 {
		addrs = append(addrs, startScripted(t, serve).Addr())
	}
	cfg := e2eConfig()
	cfg.Backends = setOf(t, addrs...)
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for range 3 {
		m := c.roundTrip("GET", "GET /poison HTTP/1.1\r\nHost: x\r\n\r\n")
		if m.status() != 502 {
			t.Fatalf("poison request: %q, want 502", m.line)
		}
		if m.get("Connection") == "close" {
			c = dialRaw(t, s.Addr())
		}
	}
	bad := 0
	for range 30 {
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if m.status() != 200 {
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of 30 healthy requests failed after the poison ones", bad)
	}
	for _, b := range cfg.Backends.Snapshot() {
		if b.Ejected(nowNano()) {
			t.Errorf("backend %s ejected", b.ID)
		}
	}
}

// TestE2ERestartOverTimeWait: PILB binds a port where connections of an
// earlier server (one without SO_REUSEPORT) sit in TIME_WAIT, as after a
// quick restart or a switch from another proxy.
func TestE2ERestartOverTimeWait(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // the server closes first: TIME_WAIT is on its side
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Read(make([]byte, 1)) // EOF
		c.Close()
	}
	ln.Close()
	demos := startDemo(t, 1)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, demos[0].Addr())
	cfg.Addr = addr
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("listen on %s with connections in TIME_WAIT: %v", addr, err)
	}
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 200)
	c.Close()
	shutdownClean(t, s)
}

// TestE2EHalfCloseGetsResponse: a client that sends its requests and then
// shuts down its write side gets every response, then the end.
func TestE2EHalfCloseGetsResponse(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // the FIN arrives first
			path := strings.Fields(m.line)[1]
			body := strings.Repeat(path, 1000)
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body) != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint(n, " requests"), func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			var req strings.Builder
			for i := range n {
				fmt.Fprintf(&req, "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
			}
			c.send(req.String())
			if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				m := c.resp("GET")
				expectStatus(t, m, 200)
				if want := strings.Repeat(fmt.Sprintf("/r%d", i), 1000); string(m.body) != want {
					t.Fatalf("response %d: %d body bytes, want %d", i, len(m.body), len(want))
				}
			}
			c.expectEOF()
		})
	}
	_ = unix.SHUT_WR
}

// TestE2EClientThatFloodsIsReset: a client that asks for a large response,
// reads none of it and then keeps pipelining requests cannot be paused
// (gnet holds output for it, which a pause would cut), so what PILB holds
// for it is capped: the connection is reset, and the proxy's memory does
// not follow the flood.
func TestE2EClientThatFloodsIsReset(t *testing.T) {
	if childOf(t) {
		floodScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 60*time.Second)
}

func floodScenario(t *testing.T) {
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		err := c.write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
		chunk := make([]byte, 64<<10)
		for err == nil {
			_, err = c.Write(chunk)
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.HighWater = 16 << 10
	s := startProxy(t, cfg)
	heap0 := heapInuse()
	c := dialRawSmallRcv(t, s.Addr(), 4096)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	c.send("GET /big HTTP/1.1\r\nHost: f\r\n\r\n")
	// Let the kernel's buffers fill, and gnet's output for the client.
	time.Sleep(500 * time.Millisecond)
	req := []byte(strings.Repeat("GET /more HTTP/1.1\r\nHost: f\r\n\r\n", 1000))
	sent := 0
	var err error
	for sent < 256<<20 && err == nil {
		var n int
		n, err = c.Write(req)
		sent += n
	}
	if err == nil {
		t.Fatalf("the proxy took %d MB of pipelined requests from a client that reads nothing", sent>>20)
	}
	if grown := int64(heapInuse()) - int64(heap0); grown > 8<<20 {
		t.Fatalf("heap grew %d MB while the client flooded %d MB", grown>>20, sent>>20)
	}
	t.Logf("reset after %d KB sent: %v", sent>>10, err)
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
}

// TestE2EPauseCyclesLeakNothing: many pauses both ways (slow downloads,
// uploads to a backend that reads slowly, with a small HighWater) leave no
// descriptor, timer, watched connection or client state behind.
func TestE2EPauseCyclesLeakNothing(t *testing.T) {
	if childOf(t) {
		pauseCyclesScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 90*time.Second)
}

func pauseCyclesScenario(t *testing.T) {
	fds0 := baselineFDs(t)
	// Larger than what the kernel buffers on loopback (a few MB each
	// way), so that PILB's own high-water mark is what holds back.
	const size = 8 << 20
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := readHead(c.br)
			if err != nil {
				return
			}
			if strings.HasPrefix(m.line, "PUT") {
				// Read the body slowly: the client is paused again and again.
				n, _ := strconv.Atoi(m.get("Content-Length"))
				buf := make([]byte, 32<<10)
				for n > 0 {
					k, err := c.br.Read(buf[:min(n, len(buf))])
					if err != nil {
						return
					}
					n -= k
					time.Sleep(time.Millisecond)
				}
				if c.write("HTTP/1.1 204 No Content\r\n\r\n") != nil {
					return
				}
				continue
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"+strings.Repeat("d", size)) != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.HighWater = 8 << 10
	s := startProxy(t, cfg)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRawSmallRcv(t, s.Addr(), 8192)
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			for range 4 {
				if i%2 == 0 {
					c.send("GET /d HTTP/1.1\r\nHost: p\r\n\r\n")
					buf := make([]byte, 4096)
					got := 0
					m, err := readHead(c.r)
					if err != nil || m.status() != 200 {
						t.Errorf("download: %v %v", err, m)
						return
					}
					for got < size {
						n, err := c.r.Read(buf)
						if err != nil {
							t.Errorf("download: %d of %d bytes: %v", got, size, err)
							return
						}
						got += n
						if got%(64<<10) < 4096 {
							time.Sleep(time.Millisecond)
						}
					}
				} else {
					c.send("PUT /u HTTP/1.1\r\nHost: p\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n" + strings.Repeat("u", size))
					if m := c.resp("PUT"); m.status() != 204 {
						t.Errorf("upload: %q", m.line)
						return
					}
				}
			}
			c.Close()
		}()
	}
	wg.Wait()
	t.Logf("%d pauses", s.pauses.Load())
	if s.pauses.Load() < 50 {
		t.Errorf("only %d pauses: the scenario does not exercise flow control", s.pauses.Load())
	}
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
	shutdownClean(t, s)
	be.stop()
	if !eventually(5*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Fatalf("descriptors: %d open after, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
}

// TestE2EBurstOfNewClients: far more new clients at once than a loop dials
// backend connections at once (maxDials): every request is answered,
// requests waiting in line take the connections freed by finished
// responses (so the backend sees fewer connections than requests), and
// the line is empty afterwards.
func TestE2EBurstOfNewClients(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	const n = 20 * maxDials
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			<-start
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: b\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			m, err := readResponse(bufio.NewReader(c), "GET")
			if err != nil || m.status() != 200 {
				errs <- fmt.Errorf("%v %v", err, headLine(m))
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d requests over %d backend connections", n, be.conns.Load())
	if be.conns.Load() >= n {
		t.Errorf("%d backend connections for %d requests: no request took a freed connection", be.conns.Load(), n)
	}
	for _, l := range loopsOf(s) {
		done := make(chan string, 1)
		_ = l.el.Execute(context.Background(), runnable(func() {
			done <- fmt.Sprintf("dials %d, queued %d, waiting %d", l.dials, l.dialQueue.len(), len(l.waiting))
		}))
		if got := recvWithin(t, done, 5*time.Second); got != "dials 0, queued 0, waiting 0" {
			t.Errorf("after the burst: %s", got)
		}
	}
}

// TestE2EHalfCloseWhileAborting: a client whose response was cut, while
// what it is owed still drains, ends its output (shutdown(SHUT_WR)).
// gnet closes a connection on EOF: the close was a FIN, so that an
// HTTP/1.0 client, whose cut body is delimited by the close, took the cut
// response for a complete one (found by TestChaos, seed 3, 1,500
// connections). What is owed drains to the half-closed client, then the
// connection is reset.
func TestE2EHalfCloseWhileAborting(t *testing.T) {
	t.Parallel()
	const big = 2 << 20
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.HasSuffix(m.line, "/a HTTP/1.1") || strings.Contains(m.line, " /a ") {
				if c.write("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(big)+"\r\n\r\n"+strings.Repeat("a", big)) != nil {
					return
				}
				continue
			}
			// A chunked body cut in the middle: the backend dies.
			_ = c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + strings.Repeat("b", 512) + "\r\n400\r\n" + strings.Repeat("b", 100))
			return
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRawSmallRcv(t, s.Addr(), 4096)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	c.send("GET /a HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
	// Not reading: /a waits in PILB, /b is cut meanwhile, and the client
	// is aborting (draining) when its FIN comes.
	if !eventually(5*time.Second, func() bool { return loopsPhase(t, s, cpAborting) }) {
		t.Fatal("the client never started aborting")
	}
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	a := c.resp("GET")
	if a.status() != 200 || len(a.body) != big {
		t.Fatalf("/a: %q, %d body bytes, want 200 and %d: an earlier complete response was destroyed", a.line, len(a.body), big)
	}
	m, err := readHead(c.r)
	if err != nil || m.status() != 200 {
		t.Fatalf("/b head: %v %v", m, err)
	}
	n, err := io.Copy(io.Discard, c.r)
	if !isReset(err) {
		t.Fatalf("/b: %d body bytes, then %v: a cut close-delimited body must end in a reset", n, err)
	}
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
}

// loopsPhase reports whether a client of s is in phase p.
func loopsPhase(t testing.TB, s *Server, p clientPhase) bool {
	found := false
	for _, l := range loopsOf(s) {
		done := make(chan bool, 1)
		if l.el.Execute(context.Background(), runnable(func() {
			ok := false
			for _, cl := range l.clients {
				ok = ok || cl.phase == p
			}
			done <- ok
		})) != nil {
			return false
		}
		found = found || <-done
	}
	return found
}

// TestE2EHalfCloseMidBody: a client ends its output (FIN) in the middle of
// its request body. PILB reads what it sent first: the body is short, so
// the exchange fails. Before the backend's answer the client gets a 400;
// once the answer has started (a backend that answers early), the
// connection is reset. A FIN there would end the HTTP/1.0 client's
// close-delimited body as if it were complete (found by TestChaos: gnet
// closed such a client with a FIN on EOF).
func TestE2EHalfCloseMidBody(t *testing.T) {
	t.Parallel()
	const early = 1024
	be := startScripted(t, func(c *bconn) {
		m, err := readHead(c.br)
		if err != nil {
			return
		}
		if strings.Contains(m.line, "/early ") {
			if c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"+strings.Repeat("b", early)+"\r\n") != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, c) // reads the short body, till PILB closes
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for _, path := range []string{"/early", "/late"} {
		t.Run(path, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			c.send("POST " + path + " HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("a", 1000))
			if path == "/early" {
				m, err := readHead(c.r)
				if err != nil || m.status() != 200 {
					t.Fatalf("head: %v %v", m, err)
				}
				if _, err := io.ReadFull(c.r, make([]byte, early)); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if path == "/late" {
				m := c.resp("POST")
				expectStatus(t, m, 400)
				c.expectEOF()
				return
			}
			n, err := io.Copy(io.Discard, c.r)
			if !isReset(err) {
				t.Fatalf("%d more body bytes, then %v: a cut close-delimited body must end in a reset", n, err)
			}
		})
	}
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
}
