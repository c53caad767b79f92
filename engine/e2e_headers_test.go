package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Hop-by-hop fields (RFC 9110 §7.6.1) and the fields PILB adds: X-Forwarded-
// For, X-Forwarded-Proto, Via (RFC 9110 §7.6.3).

// TestE2ERequestHopByHop checks that no hop-by-hop field of the client's
// request reaches the backend, that end-to-end fields do, and what PILB
// adds.
func TestE2ERequestHopByHop(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	for _, tc := range []struct {
		name     string
		req      string
		dropped  []string // must not reach the backend
		kept     [][2]string
		wantXFF  string
		wantVia  []string
		wantXFP  string
		wantLine string
	}{
		{
			name: "fixed list and Connection options",
			req: "GET /h HTTP/1.1\r\nHost: h.test\r\n" +
				"Connection: keep-alive, X-Foo, x-other\r\n" +
				"X-Foo: 1\r\n" +
				"X-Other: 2\r\n" +
				"Keep-Alive: timeout=5\r\n" +
				"Proxy-Connection: keep-alive\r\n" +
				"TE: trailers\r\n" +
				"Upgrade: h2c\r\n" + // without "Connection: upgrade" this is no upgrade request
				"Trailer: X-Checksum\r\n" +
				"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n" +
				"X-Keep: yes\r\n" +
				"Accept: */*\r\n" +
				"X-Forwarded-For: 1.2.3.4\r\n" +
				"\r\n",
			dropped:  []string{"Connection", "X-Foo", "X-Other", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Trailer", "Proxy-Authorization"},
			kept:     [][2]string{{"X-Keep", "yes"}, {"Accept", "*/*"}, {"Host", "h.test"}},
			wantXFF:  "1.2.3.4, 127.0.0.1",
			wantVia:  []string{"1.1 pilb"},
			wantXFP:  "http",
			wantLine: "GET /h HTTP/1.1",
		},
		{
			name: "Connection after the field it names",
			req: "GET /h HTTP/1.1\r\nHost: h.test\r\n" +
				"X-Late: 1\r\n" +
				"Connection: X-Late\r\n" +
				"X-Keep: yes\r\n\r\n",
			dropped: []string{"Connection", "X-Late"},
			kept:    [][2]string{{"X-Keep", "yes"}},
			wantXFF: "127.0.0.1",
			wantVia: []string{"1.1 pilb"},
			wantXFP: "http",
		},
		{
			name: "two X-Forwarded-For lines are joined",
			req: "GET /h HTTP/1.1\r\nHost: h.test\r\n" +
				"X-Forwarded-For: 1.2.3.4\r\n" +
				"X-Forwarded-For: 5.6.7.8, 9.9.9.9\r\n\r\n",
			wantXFF: "1.2.3.4, 5.6.7.8, 9.9.9.9, 127.0.0.1",
			wantVia: []string{"1.1 pilb"},
			wantXFP: "http",
		},
		{
			name: "client's X-Forwarded-Proto is replaced, Via appended",
			req: "GET /h HTTP/1.1\r\nHost: h.test\r\n" +
				"X-Forwarded-Proto: https\r\n" +
				"Via: 1.1 edge\r\n\r\n",
			wantXFF: "127.0.0.1",
			wantVia: []string{"1.1 edge", "1.1 pilb"},
			wantXFP: "http",
		},
		{
			name: "HTTP/1.0 client",
			req: "GET /h HTTP/1.0\r\nHost: h.test\r\n" +
				"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
			dropped:  []string{"Connection", "Keep-Alive"},
			wantXFF:  "127.0.0.1",
			wantVia:  []string{"1.0 pilb"},
			wantXFP:  "http",
			wantLine: "GET /h HTTP/1.1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(be.requests())
			c := dialRaw(t, s.Addr())
			expectStatus(t, c.roundTrip("GET", tc.req), 200)
			reqs := be.requests()
			if len(reqs) != n+1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs)-n)
			}
			up := reqs[n]
			for _, name := range tc.dropped {
				if up.has(name) {
					t.Errorf("hop-by-hop %s: %q forwarded upstream", name, up.get(name))
				}
			}
			for _, f := range tc.kept {
				if got := up.all(f[0]); len(got) != 1 || got[0] != f[1] {
					t.Errorf("end-to-end %s forwarded as %q, want %q", f[0], got, f[1])
				}
			}
			if got := up.all("X-Forwarded-For"); len(got) != 1 || got[0] != tc.wantXFF {
				t.Errorf("X-Forwarded-For lines %q, want one line %q", got, tc.wantXFF)
			}
			if got := up.all("X-Forwarded-Proto"); len(got) != 1 || got[0] != tc.wantXFP {
				t.Errorf("X-Forwarded-Proto lines %q, want one line %q", got, tc.wantXFP)
			}
			if got := up.all("Via"); !slices.Equal(got, tc.wantVia) {
				// Via is a list: one line or several, in order.
				if strings.Join(got, ", ") != strings.Join(tc.wantVia, ", ") {
					t.Errorf("Via %q, want %q", got, tc.wantVia)
				}
			}
			if tc.wantLine != "" && up.line != tc.wantLine {
				t.Errorf("request line %q, want %q", up.line, tc.wantLine)
			}
			if t.Failed() {
				t.Logf("upstream head:\n%s", up.head)
			}
		})
	}
}

// TestE2EResponseHopByHop checks that no hop-by-hop field of the backend's
// response reaches the client, that end-to-end ones do, and that Via is
// added.
func TestE2EResponseHopByHop(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		for {
			if _, err := c.readRequest(); err != nil {
				return
			}
			err := c.write("HTTP/1.1 200 OK\r\n" +
				"Connection: X-Bar\r\n" +
				"X-Bar: 1\r\n" +
				"Keep-Alive: timeout=5, max=100\r\n" +
				"Proxy-Authenticate: Basic realm=\"x\"\r\n" +
				"Upgrade: h2c\r\n" +
				"Trailer: X-Checksum\r\n" + // no chunked body: nothing to announce
				"Proxy-Connection: keep-alive\r\n" +
				"X-End: yes\r\n" +
				"Cache-Control: max-age=60\r\n" +
				"Set-Cookie: a=1\r\n" +
				"Set-Cookie: b=2\r\n" +
				"Content-Length: 2\r\n\r\nok")
			if err != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for i := range 2 { // the second on the same connection: it stayed usable
		m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		expectStatus(t, m, 200)
		for _, name := range []string{"Connection", "X-Bar", "Keep-Alive", "Proxy-Authenticate", "Upgrade", "Trailer", "Proxy-Connection", "Transfer-Encoding"} {
			if m.has(name) {
				t.Errorf("response %d: hop-by-hop %s: %q reached the client", i, name, m.get(name))
			}
		}
		if m.get("X-End") != "yes" || m.get("Cache-Control") != "max-age=60" {
			t.Errorf("response %d: end-to-end fields lost:\n%s", i, m.head)
		}
		if got := m.all("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
			t.Errorf("response %d: Set-Cookie lines %q, want both, in order", i, got)
		}
		if got := m.get("Via"); got != "1.1 pilb" {
			t.Errorf("response %d: Via %q, want 1.1 pilb", i, got)
		}
		if m.get("Content-Length") != "2" || string(m.body) != "ok" {
			t.Errorf("response %d: Content-Length %q body %q", i, m.get("Content-Length"), m.body)
		}
		if t.Failed() {
			t.Fatalf("head:\n%s", m.head)
		}
	}
}

// TestE2ELargeAndManyFields: a large field value and a hundred-odd field
// lines (within the limits) reach the backend intact and in order, and so
// do they the client from a response.
func TestE2ELargeAndManyFields(t *testing.T) {
	t.Parallel()
	cookie := strings.Repeat("c", 12<<10)
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			var resp strings.Builder
			resp.WriteString("HTTP/1.1 200 OK\r\n")
			for _, f := range m.fields {
				if strings.HasPrefix(f[0], "X-N") || f[0] == "Cookie" {
					resp.WriteString("R-" + f[0] + ": " + f[1] + "\r\n")
				}
			}
			resp.WriteString("Content-Length: 2\r\n\r\nok")
			if c.write(resp.String()) != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	var req strings.Builder
	req.WriteString("GET / HTTP/1.1\r\nHost: f\r\nCookie: " + cookie + "\r\n")
	const n = 80 // plus Host, Cookie and the fields PILB adds: under the 100-field cap
	for i := range n {
		fmt.Fprintf(&req, "X-N%02d: value %d\r\n", i, i)
	}
	req.WriteString("\r\n")
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", req.String())
	expectStatus(t, m, 200)
	up := be.requests()[0]
	if up.get("Cookie") != cookie {
		t.Errorf("Cookie of %d bytes arrived as %d bytes", len(cookie), len(up.get("Cookie")))
	}
	var names []string
	for _, f := range up.fields {
		if strings.HasPrefix(f[0], "X-N") {
			names = append(names, f[0]+"="+f[1])
		}
	}
	if len(names) != n {
		t.Fatalf("%d of %d X-N fields arrived", len(names), n)
	}
	for i, nv := range names {
		if want := fmt.Sprintf("X-N%02d=value %d", i, i); nv != want {
			t.Fatalf("field %d is %q, want %q: order or value changed", i, nv, want)
		}
	}
	if m.get("R-Cookie") != cookie || len(m.all("R-X-N79")) != 1 {
		t.Fatalf("response fields lost (R-Cookie %d bytes)", len(m.get("R-Cookie")))
	}
}
