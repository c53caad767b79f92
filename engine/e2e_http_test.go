package engine

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Rotation, keep-alive, pipelining and the request line sent upstream.

// TestE2ERoundRobinCounts checks the share of each backend over N
// requests with two loops, over one keep-alive connection and over a new
// connection per request: round robin is per request across loops, so
// each of k backends gets N/k within one (HAProxy's balance-rr.vtc).
func TestE2ERoundRobinCounts(t *testing.T) {
	t.Parallel()
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep-alive=%v", keepAlive), func(t *testing.T) {
			t.Parallel()
			checkRotation(t, keepAlive, 0)
		})
	}
}

// TestE2ERoundRobinPredialed is TestE2ERoundRobinCounts with backend
// connections dialed ahead of traffic (ConnsPerBackend). It does not run
// in parallel: under -race, a data race found while it runs would fail
// every test running beside it.
func TestE2ERoundRobinPredialed(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep-alive=%v", keepAlive), func(t *testing.T) {
			checkRotation(t, keepAlive, 2)
		})
	}
}

func checkRotation(t *testing.T, keepAlive bool, predial int) {
	const k, n = 3, 30
	cfg := e2eConfig()
	cfg.ConnsPerBackend = predial
	s, demos := proxyToDemo(t, k, cfg)
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	byHeader := map[string]int{}
	for i := range n {
		resp, b := get(t, client, fmt.Sprintf("http://%s/?i=%d", s.Addr(), i))
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		id := resp.Header.Get("Server")
		if want := "hello from " + id + "\n"; b != want {
			t.Fatalf("request %d: body %q from %q", i, b, id)
		}
		byHeader[id]++
	}
	for _, d := range demos {
		got := int(d.Requests())
		if got < n/k-1 || got > n/k+1 {
			t.Errorf("backend %s answered %d of %d requests, want %d±1 (all: %v)", d.ID(), got, n, n/k, byHeader)
		}
		if byHeader[d.ID()] != got {
			t.Errorf("backend %s: %d responses carry its Server header, it counted %d", d.ID(), byHeader[d.ID()], got)
		}
	}
}

// TestE2EKeepAlive checks the connection management of the client hop
// (RFC 9112 §9.3): HTTP/1.1 persists unless "close", HTTP/1.0 closes
// unless "keep-alive", and PILB says so in the response.
func TestE2EKeepAlive(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 2, e2eConfig())

	t.Run("HTTP/1.1 several requests on one connection", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		for i := range 5 {
			m := c.roundTrip("GET", fmt.Sprintf("GET /bytes/%d HTTP/1.1\r\nHost: ka.test\r\n\r\n", 10+i))
			expectStatus(t, m, 200)
			if len(m.body) != 10+i {
				t.Fatalf("request %d: body of %d bytes", i, len(m.body))
			}
			if m.has("Connection") {
				t.Fatalf("keep-alive response says Connection: %q", m.get("Connection"))
			}
		}
	})

	t.Run("HTTP/1.1 Connection: close is honoured", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: ka.test\r\n\r\n"), 200)
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: ka.test\r\nConnection: close\r\n\r\n")
		expectStatus(t, m, 200)
		if !strings.EqualFold(m.get("Connection"), "close") {
			t.Fatalf("response to Connection: close says Connection: %q", m.get("Connection"))
		}
		c.expectEOF()
	})

	t.Run("HTTP/1.0 closes by default", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		m := c.roundTrip("GET", "GET / HTTP/1.0\r\nHost: ka.test\r\n\r\n")
		expectStatus(t, m, 200)
		if !strings.HasPrefix(string(m.body), "hello from s") {
			t.Fatalf("body %q", m.body)
		}
		if strings.EqualFold(m.get("Connection"), "keep-alive") {
			t.Fatal("HTTP/1.0 response without keep-alive request says Connection: keep-alive")
		}
		c.expectEOF()
	})

	t.Run("HTTP/1.0 keep-alive stays open", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		for i := range 3 {
			m := c.roundTrip("GET", "GET / HTTP/1.0\r\nHost: ka.test\r\nConnection: keep-alive\r\n\r\n")
			expectStatus(t, m, 200)
			if !strings.EqualFold(m.get("Connection"), "keep-alive") {
				t.Fatalf("request %d: HTTP/1.0 keep-alive response says Connection: %q", i, m.get("Connection"))
			}
		}
		// And a last one without keep-alive ends it.
		expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.0\r\nHost: ka.test\r\n\r\n"), 200)
		c.expectEOF()
	})
}

// TestE2EBackendCloseKeepsClient checks that a backend closing its
// connection after each response (Connection: close upstream) is a matter
// of the backend hop only: the client connection stays open and is not
// told to close.
func TestE2EBackendCloseKeepsClient(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		_ = c.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for i := range 3 {
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		expectStatus(t, m, 200)
		if string(m.body) != "bye" || m.has("Connection") {
			t.Fatalf("request %d: body %q, Connection %q", i, m.body, m.get("Connection"))
		}
	}
	if got := be.conns.Load(); got != 3 {
		t.Fatalf("backend saw %d connections for 3 requests it closed after", got)
	}
}

// TestE2EPipelining writes a batch of mixed requests in one write and
// checks that the responses come back in request order, each with the body
// that identifies its request.
func TestE2EPipelining(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 3, e2eConfig())

	big := strings.Repeat("0123456789abcdef", 100<<10/16) // 100 KiB: streamed, not retained
	type step struct {
		method, req string
		check       func(m *msg) error
	}
	hasBody := func(want string) func(*msg) error {
		return func(m *msg) error {
			if string(m.body) != want {
				return fmt.Errorf("body %.40q (%d bytes), want %.40q (%d bytes)", m.body, len(m.body), want, len(want))
			}
			return nil
		}
	}
	pattern := func(n int) func(*msg) error {
		return func(m *msg) error {
			if len(m.body) != n {
				return fmt.Errorf("body of %d bytes, want %d", len(m.body), n)
			}
			return checkPattern(m.body, 0)
		}
	}
	steps := []step{
		{"GET", "GET /bytes/10 HTTP/1.1\r\nHost: p\r\n\r\n", pattern(10)},
		{"HEAD", "HEAD /bytes/100 HTTP/1.1\r\nHost: p\r\n\r\n", func(m *msg) error {
			if m.get("Content-Length") != "100" || len(m.body) != 0 {
				return fmt.Errorf("HEAD: Content-Length %q, body %q", m.get("Content-Length"), m.body)
			}
			return nil
		}},
		{"POST", "POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 10\r\n\r\nrequest #3", hasBody("request #3")},
		{"GET", "GET /bytes/70000 HTTP/1.1\r\nHost: p\r\n\r\n", pattern(70000)},
		{"POST", "POST /echo HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nrequest \r\n2;ext=1\r\n#5\r\n0\r\n\r\n", hasBody("request #5")},
		{"GET", "GET /chunked/1000 HTTP/1.1\r\nHost: p\r\n\r\n", pattern(1000)},
		{"GET", "GET /status/204 HTTP/1.1\r\nHost: p\r\n\r\n", func(m *msg) error {
			if m.status() != 204 || len(m.body) != 0 {
				return fmt.Errorf("status %d, body %q", m.status(), m.body)
			}
			return nil
		}},
		{"POST", fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s", len(big), big), hasBody(big)},
		{"GET", "GET /bytes/1 HTTP/1.1\r\nHost: p\r\n\r\n", pattern(1)},
		{"GET", "GET /bytes/11 HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n", pattern(11)},
	}
	var batch strings.Builder
	for _, st := range steps {
		batch.WriteString(st.req)
	}
	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(batch.String()))
		errc <- err
	}()
	for i, st := range steps {
		m, err := readResponse(c.r, st.method)
		if err != nil {
			t.Fatalf("response %d (%s): %v", i+1, strings.SplitN(st.req, "\r\n", 2)[0], err)
		}
		if m.status() != 200 && m.status() != 204 {
			t.Fatalf("response %d (%s): %q", i+1, strings.SplitN(st.req, "\r\n", 2)[0], m.line)
		}
		if err := st.check(m); err != nil {
			t.Fatalf("response %d (%s): %v", i+1, strings.SplitN(st.req, "\r\n", 2)[0], err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	c.expectEOF()
}

// TestE2EUpstreamRequestLine checks what a backend receives: the request
// line with the method and target byte for byte and PILB's own version
// HTTP/1.1 (RFC 9112 §2.3), Host as received, and Via naming the version
// the client spoke (RFC 9110 §7.6.3).
func TestE2EUpstreamRequestLine(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	for _, tc := range []struct {
		name, req, wantLine, wantHost, wantVia string
	}{
		{"1.0 client", "GET /a%20b?x=1&y=%2F HTTP/1.0\r\nHost: example.com:8080\r\n\r\n",
			"GET /a%20b?x=1&y=%2F HTTP/1.1", "example.com:8080", "1.0 pilb"},
		{"1.1 client", "GET /a%20b?x=1&y=%2F HTTP/1.1\r\nHost: example.com\r\n\r\n",
			"GET /a%20b?x=1&y=%2F HTTP/1.1", "example.com", "1.1 pilb"},
		{"absolute-form", "GET http://example.com/p/q?r=s HTTP/1.1\r\nHost: example.com\r\n\r\n",
			"GET http://example.com/p/q?r=s HTTP/1.1", "example.com", "1.1 pilb"},
		{"odd but valid target", "GET /~u/a;b=c/!$&'()*+,=:@/%7E?q=a/b?c&d=%25 HTTP/1.1\r\nHost: h\r\n\r\n",
			"GET /~u/a;b=c/!$&'()*+,=:@/%7E?q=a/b?c&d=%25 HTTP/1.1", "h", "1.1 pilb"},
		{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS * HTTP/1.1", "h", "1.1 pilb"},
		{"extension method", "PURGE /cache/x HTTP/1.1\r\nHost: h\r\n\r\n", "PURGE /cache/x HTTP/1.1", "h", "1.1 pilb"},
		{"IPv6 literal host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET / HTTP/1.1", "[::1]:8080", "1.1 pilb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(be.requests())
			c := dialRaw(t, s.Addr())
			method, _, _ := strings.Cut(tc.req, " ")
			m := c.roundTrip(method, tc.req)
			expectStatus(t, m, 200)
			reqs := be.requests()
			if len(reqs) != n+1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs)-n)
			}
			up := reqs[n]
			if up.line != tc.wantLine {
				t.Errorf("upstream request line %q, want %q", up.line, tc.wantLine)
			}
			if hosts := up.all("Host"); len(hosts) != 1 || hosts[0] != tc.wantHost {
				t.Errorf("upstream Host %q, want one line %q", hosts, tc.wantHost)
			}
			if got := up.get("Via"); got != tc.wantVia {
				t.Errorf("upstream Via %q, want %q", got, tc.wantVia)
			}
		})
	}
}

// TestE2EHTTP10WithoutHost checks that an HTTP/1.0 request without Host
// (legal in 1.0) is still a valid HTTP/1.1 request when PILB sends it
// upstream as 1.1: RFC 9112 §3.2 says a client MUST send Host in every
// HTTP/1.1 request (with an empty value when the target has no authority),
// and a strict backend (the demo backend, as net/http) answers 400
// without it.
func TestE2EHTTP10WithoutHost(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET /no-host HTTP/1.0\r\n\r\n"), 200)
	reqs := be.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests", len(reqs))
	}
	if !strings.HasSuffix(reqs[0].line, " HTTP/1.1") {
		t.Fatalf("upstream request line %q", reqs[0].line)
	}
	if hosts := reqs[0].all("Host"); len(hosts) != 1 {
		t.Errorf("HTTP/1.1 request sent upstream with %d Host fields, want 1:\n%s", len(hosts), reqs[0].head)
	}

	// The same through the demo backend, which rejects a 1.1 request
	// without Host as RFC 9112 §3.2 says it must.
	s2, _ := proxyToDemo(t, 1, e2eConfig())
	c2 := dialRaw(t, s2.Addr())
	m := c2.roundTrip("GET", "GET / HTTP/1.0\r\n\r\n")
	expectStatus(t, m, 200)
}
