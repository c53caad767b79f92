package engine

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// Backend failures: what the client gets, which requests are retried
// (RFC 9112 §9.3.1: only idempotent ones, and only when nothing of the
// response has reached the client), and the passive back-off.

// TestE2EConnectRefusedRetried has one of two backends refuse connects:
// every request still succeeds on the other, and the refusing one is
// ejected for a back-off instead of being tried again on every request.
func TestE2EConnectRefusedRetried(t *testing.T) {
	t.Parallel()
	demos := startDemo(t, 1)
	set := &pool.Set{}
	bad := &pool.Backend{ID: "bad", Addr: closedAddr(t)}
	for _, b := range []*pool.Backend{{ID: "s1", Addr: demos[0].Addr()}, bad} {
		if err := set.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e2eConfig()
	cfg.Backends = set
	s := startProxy(t, cfg)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	keepAlive := &http.Client{Transport: tr}
	perConn := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	const n = 10
	start := time.Now()
	for i := range n {
		client := keepAlive
		if i%2 == 1 {
			client = perConn
		}
		resp, b := get(t, client, fmt.Sprintf("http://%s/?i=%d", s.Addr(), i))
		if resp.StatusCode != 200 || resp.Header.Get("Server") != "s1" {
			t.Fatalf("request %d: status %d from %q, body %q", i, resp.StatusCode, resp.Header.Get("Server"), b)
		}
	}
	if got := demos[0].Requests(); got != n {
		t.Errorf("the good backend answered %d of %d requests", got, n)
	}
	if bad.Failures() < 1 {
		t.Errorf("the refusing backend has %d failures recorded", bad.Failures())
	}
	// One incident, one back-off, not one per request: the refusing
	// backend is tried again only once each back-off (BaseEjection, then
	// doubling) has passed. Usually all n requests run inside the first.
	elapsed := time.Since(start)
	if most := 1 + int(elapsed/pool.BaseEjection); bad.Failures() > most {
		t.Errorf("the refusing backend was ejected %d times in a row in %v, at most %d expected: it was tried again during its back-off",
			bad.Failures(), elapsed, most)
	}
}

// TestE2EAllBackendsRefuse: every backend refuses connects, so the
// request fails with 502 Bad Gateway.
func TestE2EAllBackendsRefuse(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.Backends = setOf(t, closedAddr(t), closedAddr(t))
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
	expectStatus(t, m, 502)
	// While both are backed off, no backend is available: 503 is as
	// right as 502 then, but nothing else is.
	c2 := dialRaw(t, s.Addr())
	m = c2.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
	if st := m.status(); st != 502 && st != 503 {
		t.Fatalf("second request: %q", m.line)
	}
}

// TestE2ENoBackends: an empty set is 503 Service Unavailable, and the
// client connection survives it.
func TestE2ENoBackends(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.Backends = &pool.Set{}
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for range 2 {
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
		expectStatus(t, m, 503)
	}
}

// TestE2EBackendNeverAnswers: a backend that accepts and reads but never
// answers gets the client a 504 after BackendTimeout.
func TestE2EBackendNeverAnswers(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		_, _ = c.readRequest()
		_, _ = io.Copy(io.Discard, c.br) // until PILB gives up
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.BackendTimeout = 300 * time.Millisecond
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
	expectStatus(t, m, 504)
	time.Sleep(50 * time.Millisecond)
	if be.heads.Load() != 1 {
		t.Fatalf("the timed-out request was sent %d times", be.heads.Load())
	}
}

// deadPooledBackend answers the first request on each connection with a
// keep-alive 200 and closes the connection, without answering, when a
// second request arrives on it: from PILB's side, a pooled connection the
// backend had already given up on.
func deadPooledBackend(t *testing.T) *scripted {
	return startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		if c.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Conn: %d\r\n\r\nfirst", c.n)) != nil {
			return
		}
		_, _ = c.readRequest()
	})
}

// TestE2EDeadPooledConnGETRetried: a GET sent on a pooled connection the
// backend has closed is sent again on a new connection, and the client
// never knows.
func TestE2EDeadPooledConnGETRetried(t *testing.T) {
	t.Parallel()

	t.Run("closed on request", func(t *testing.T) {
		t.Parallel()
		be := deadPooledBackend(t)
		cfg := e2eConfig()
		cfg.Backends = setOf(t, be.Addr())
		s := startProxy(t, cfg)
		c := dialRaw(t, s.Addr()) // one client connection: one loop, one pool
		for i := range 3 {
			m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
			expectStatus(t, m, 200)
			if string(m.body) != "first" {
				t.Fatalf("request %d: body %q", i, m.body)
			}
		}
		// Request 1 on conn 1; request 2 on conn 1 (dead), retried on
		// conn 2; request 3 on conn 2 (dead), retried on conn 3.
		if got := be.conns.Load(); got != 3 {
			t.Errorf("backend saw %d connections, want 3", got)
		}
		if got := be.heads.Load(); got != 5 {
			t.Errorf("backend saw %d request heads, want 5", got)
		}
	})

	t.Run("closed while idle", func(t *testing.T) {
		t.Parallel()
		be := startScripted(t, func(c *bconn) {
			if _, err := c.readRequest(); err != nil {
				return
			}
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			time.Sleep(20 * time.Millisecond) // then close: an idle keep-alive timeout
		})
		cfg := e2eConfig()
		cfg.Backends = setOf(t, be.Addr())
		s := startProxy(t, cfg)
		c := dialRaw(t, s.Addr())
		for i := range 3 {
			m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n")
			expectStatus(t, m, 200)
			if !eventually(2*time.Second, func() bool { return be.conns.Load() > int64(i) && len(be.requests()) > i }) {
				t.Fatal("backend did not see the request")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// TestE2EDeadPooledConnPOSTNotRetried: a POST sent on a pooled connection
// the backend closes without answering may have been processed, so it is
// not sent again (RFC 9112 §9.3.1): the client gets 502.
func TestE2EDeadPooledConnPOSTNotRetried(t *testing.T) {
	t.Parallel()
	be := deadPooledBackend(t)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: f\r\n\r\n"), 200)
	m := c.roundTrip("POST", "POST /order HTTP/1.1\r\nHost: f\r\nContent-Length: 3\r\n\r\nabc")
	expectStatus(t, m, 502)
	time.Sleep(100 * time.Millisecond) // a retry would be on its way by now
	if got := be.heads.Load(); got != 2 {
		t.Fatalf("backend saw %d request heads, want 2: the POST was retried", got)
	}
}

// TestE2EBackendDiesMidResponse: the backend announces 1000 bytes, sends
// 100 and closes. The client must see a truncated response, never a
// complete-looking one: it gets the bytes sent, then its connection is
// reset.
func TestE2EBackendDiesMidResponse(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		switch {
		case strings.Contains(m.line, "/chunked"):
			_ = c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("c", 100) + "\r\n3e8\r\n" + strings.Repeat("d", 100))
		default:
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 100))
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	for _, path := range []string{"/length", "/chunked"} {
		t.Run(path+" net/http", func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("http://" + s.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read %d bytes of a truncated body with error %v, want a reset", len(b), err)
			}
			if want := 100 + 100*strings.Count(path, "chunked"); len(b) != want {
				t.Fatalf("read %d bytes of the truncated body, the backend sent %d", len(b), want)
			}
		})
		t.Run(path+" raw", func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			c.send("GET " + path + " HTTP/1.1\r\nHost: f\r\n\r\n")
			m, err := readResponse(c.r, "GET")
			if err == nil {
				t.Fatalf("complete-looking response from a backend that died mid-body: %q, %d body bytes", m.line, len(m.body))
			}
			if m != nil && len(m.body) > 200 {
				t.Fatalf("%d body bytes, the backend sent 100 or 200", len(m.body))
			}
		})
	}
}

// TestE2EMalformedBackendResponses: a response PILB cannot frame is a 502
// for the client, and the client connection survives it.
func TestE2EMalformedBackendResponses(t *testing.T) {
	t.Parallel()
	answers := map[string]string{
		"/bad-status":     "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
		"/bad-version":    "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"/not-http":       "SSH-2.0-OpenSSH_9.6\r\n\r\n",
		"/bad-cl":         "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nabc",
		"/negative-cl":    "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
		"/two-cl":         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"/cl-and-te":      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"/bad-header":     "HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok",
		"/obs-fold":       "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok",
		"/bare-lf":        "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"/101-unasked":    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"/status-too-big": "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		// A chunked body broken in the bytes that came with its head:
		// nothing has reached the client yet, so it still gets a 502.
		"/bad-first-chunk": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	}
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			path := strings.Fields(m.line)[1]
			a, ok := answers[path]
			if !ok {
				a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			}
			if c.write(a) != nil || ok {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for path := range answers {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, s.Addr())
			m := c.roundTrip("GET", "GET "+path+" HTTP/1.1\r\nHost: f\r\n\r\n")
			expectStatus(t, m, 502)
			if !strings.EqualFold(m.get("Connection"), "close") {
				c.expectOpen()
			}
		})
	}
}
