package engine

import (
	"strings"
	"testing"
)

// TestE2ERejections sends requests PILB must refuse itself: each gets its
// status, the connection is closed (after a framing error nothing that
// follows can be trusted), and nothing reaches the backend. Each attack
// has a legitimate twin beside it that gets through.
func TestE2ERejections(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.MaxHeaderBytes = 16 << 10
	s := startProxy(t, cfg)

	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name   string
		attack string
		status int
		twin   string
	}{
		{"no version", "GET /\r\nHost: r\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"double space in request line", "GET  / HTTP/1.1\r\nHost: r\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: r\r\n\r\n", 400,
			"GET /a%20b HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"lower-case version", "GET / http/1.1\r\nHost: r\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: r\r\nX-Foo : bar\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\nX-Foo: bar\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: r\r\nX-Foo: a\r\n b\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\nX-Foo: a b\r\n\r\n"},
		{"bare LF", "GET / HTTP/1.1\nHost: r\n\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: r\r\nX-Foo: a\x00b\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\nX-Foo: ab\r\n\r\n"},
		{"Content-Length and Transfer-Encoding",
			"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
			"POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"two different Content-Lengths",
			"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
			"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"},
		{"negative Content-Length", "POST / HTTP/1.1\r\nHost: r\r\nContent-Length: -1\r\n\r\n", 400,
			"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: 1\r\n\r\nx"},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n", 400,
			"POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"chunk data longer than its size", "POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400,
			"POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"},
		{"head too large", "GET / HTTP/1.1\r\nHost: r\r\nX-Big: " + long(17<<10) + "\r\n\r\n", 431,
			"GET / HTTP/1.1\r\nHost: r\r\nX-Big: " + long(8<<10) + "\r\n\r\n"},
		{"target too long", "GET /" + long(9000) + " HTTP/1.1\r\nHost: r\r\n\r\n", 414,
			"GET /" + long(8000) + " HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: gzip\r\n\r\nxxxx", 501,
			"POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nxxxx\r\n0\r\n\r\n"},
		{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
			"POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
			"POST / HTTP/1.0\r\nHost: r\r\nContent-Length: 1\r\n\r\nx"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: r\r\n\r\n", 505,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: r\r\n\r\n", 505,
			"GET / HTTP/1.1\r\nHost: r\r\n\r\n"},
		{"missing Host in 1.1", "GET / HTTP/1.1\r\nX-Foo: 1\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: r\r\nX-Foo: 1\r\n\r\n"},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501,
			"GET / HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := be.heads.Load()
			c := dialRaw(t, s.Addr())
			c.send(tc.attack)
			m := c.resp("GET")
			expectStatus(t, m, tc.status)
			if !strings.EqualFold(m.get("Connection"), "close") {
				t.Errorf("rejection says Connection %q, want close", m.get("Connection"))
			}
			c.expectEOF()
			if got := be.heads.Load() - before; got != 0 {
				t.Fatalf("the rejected request reached the backend (%d heads)", got)
			}

			twin := dialRaw(t, s.Addr())
			method, _, _ := strings.Cut(tc.twin, " ")
			m = twin.roundTrip(method, tc.twin)
			expectStatus(t, m, 200)
			if string(m.body) != "ok" {
				t.Fatalf("twin body %q", m.body)
			}
			if got := be.heads.Load() - before; got != 1 {
				t.Fatalf("the twin reached the backend %d times", got)
			}
		})
	}
}

// TestE2EBadChunkAfterDispatch sends a chunked body whose bad chunk
// arrives after the head went upstream: the client gets 400 (or a close)
// and the connection is closed, and the backend never gets a complete
// request.
func TestE2EBadChunkAfterDispatch(t *testing.T) {
	t.Parallel()
	complete := make(chan *msg, 1)
	be := startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err == nil {
			complete <- m
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("POST / HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
	if !eventually(2e9, func() bool { return be.heads.Load() == 1 }) {
		t.Fatal("head not forwarded")
	}
	c.send("lo\r\nZZ\r\n")
	m, err := readResponse(c.r, "POST")
	if err == nil {
		expectStatus(t, m, 400)
		c.expectEOF()
	}
	select {
	case m := <-complete:
		t.Fatalf("backend got a complete request from a malformed body: %q", m.rawBody)
	default:
	}
}
