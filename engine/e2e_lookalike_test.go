package engine

import (
	"strings"
	"testing"
)

// TestE2EFramingLookAlikes is the regression test of issue 7, defect 7,
// over real sockets: a field that only looks like Transfer-Encoding or
// Content-Length (a backend that reads '_' as '-' or drops separators
// takes it as framing, PILB does not), and a request-target of no RFC 9112
// §3.2 form, get 400 and a close, and nothing of them reaches the backend,
// not even the request smuggled behind them; each legitimate twin gets
// through as sent.
func TestE2EFramingLookAlikes(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	// smuggled is what a backend that honours the look-alike would take
	// for a second request.
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: r\r\n\r\n"
	chunkedBody := "0\r\n\r\n" + smuggled
	for _, tc := range []struct {
		name     string
		attack   string
		status   int
		twin     string
		twinLine string // the request line the backend must see for the twin
		twinBody string // and the body
	}{
		{"Transfer_Encoding with Content-Length",
			"POST /a HTTP/1.1\r\nHost: r\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunkedBody, 400,
			"POST /a HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			"POST /a HTTP/1.1", "hello"},
		{"TransferEncoding",
			"POST /a HTTP/1.1\r\nHost: r\r\nTransferEncoding: chunked\r\n\r\n" + chunkedBody, 400,
			"POST /a HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			"POST /a HTTP/1.1", "hello"},
		{"Content_Length",
			"POST /a HTTP/1.1\r\nHost: r\r\nContent_Length: 5\r\n\r\nhello" + smuggled, 400,
			"POST /a HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\n\r\nhello",
			"POST /a HTTP/1.1", "hello"},
		{"GET !",
			"GET ! HTTP/1.1\r\nHost: r\r\n\r\n" + smuggled, 400,
			"GET /! HTTP/1.1\r\nHost: r\r\n\r\n",
			"GET /! HTTP/1.1", ""},
		{"GET *",
			"GET * HTTP/1.1\r\nHost: r\r\n\r\n", 400,
			"OPTIONS * HTTP/1.1\r\nHost: r\r\n\r\n",
			"OPTIONS * HTTP/1.1", ""},
		{"absolute-form with userinfo",
			"GET http://u@evil.example/a HTTP/1.1\r\nHost: r\r\n\r\n", 400,
			"GET http://r/a HTTP/1.1\r\nHost: r\r\n\r\n",
			"GET http://r/a HTTP/1.1", ""},
		{"absolute-form naming another host than Host",
			"GET http://evil.example/a HTTP/1.1\r\nHost: r\r\n\r\n", 400,
			"GET http://R:80/a HTTP/1.1\r\nHost: r\r\n\r\n",
			"GET http://R:80/a HTTP/1.1", ""},
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

			n := len(be.requests())
			twin := dialRaw(t, s.Addr())
			method, _, _ := strings.Cut(tc.twin, " ")
			m = twin.roundTrip(method, tc.twin)
			expectStatus(t, m, 200)
			if string(m.body) != "ok" {
				t.Fatalf("twin body %q", m.body)
			}
			reqs := be.requests()
			if len(reqs) != n+1 {
				t.Fatalf("the twin reached the backend as %d requests, want 1", len(reqs)-n)
			}
			if up := reqs[n]; up.line != tc.twinLine || string(up.body) != tc.twinBody {
				t.Fatalf("backend got %q with body %q, want %q with %q", up.line, up.body, tc.twinLine, tc.twinBody)
			}
		})
	}
	for _, r := range be.requests() {
		if strings.Contains(r.line, "/smuggled") {
			t.Fatalf("a smuggled request reached the backend: %q", r.line)
		}
	}
}

// TestE2EFramingLookAlikeInResponse: a backend's response with a look-alike
// framing field reaches the client whole, framed by PILB, and without the
// look-alike, so that nothing in front of PILB can read it as framing;
// the real field names beside it are kept or re-framed as usual.
func TestE2EFramingLookAlikeInResponse(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		for {
			if _, err := c.readRequest(); err != nil {
				return
			}
			if c.write("HTTP/1.1 200 OK\r\nTransfer_Encoding: chunked\r\nContentLength: 99\r\n"+
				"X-Kept: 1\r\nContent-Length: 5\r\n\r\nhello") != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	c := dialRaw(t, s.Addr())
	for range 2 {
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: r\r\n\r\n")
		expectStatus(t, m, 200)
		if string(m.body) != "hello" || m.get("X-Kept") != "1" {
			t.Fatalf("body %q, X-Kept %q\n%s", m.body, m.get("X-Kept"), m.head)
		}
		if m.has("Transfer_Encoding") || m.has("ContentLength") {
			t.Fatalf("look-alike forwarded to the client:\n%s", m.head)
		}
	}
}

// TestE2EForwardedLookAlikeDropped: X_Forwarded_For (which CGI, WSGI and
// Rack read as X-Forwarded-For) never reaches the backend, so a client
// cannot pass off an address as the one PILB vouches for; the real
// X-Forwarded-For is appended to as usual.
func TestE2EForwardedLookAlikeDropped(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: r\r\nX_Forwarded_For: 6.6.6.6\r\nX.Forwarded.Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	expectStatus(t, m, 200)
	reqs := be.requests()
	up := reqs[len(reqs)-1]
	for _, f := range up.fields {
		if strings.Contains(f[1], "6.6.6.6") || strings.EqualFold(f[0], "X.Forwarded.Proto") {
			t.Fatalf("look-alike forwarded: %q: %q", f[0], f[1])
		}
	}
	if got := up.get("X-Forwarded-For"); got != "10.0.0.1, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For %q", got)
	}
	if got := up.get("X-Forwarded-Proto"); got != "http" {
		t.Fatalf("X-Forwarded-Proto %q", got)
	}
}
