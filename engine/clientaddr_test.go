package engine

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// v2Header builds a PROXY protocol v2 header: PROXY (or LOCAL) over TCP
// from src to dst, with one TLV (an AWS VPC endpoint id).
func v2Header(local bool, src, dst string) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n")
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	var body []byte
	fam := byte(0x11)
	if s.Addr().Is4() {
		a, b := s.Addr().As4(), d.Addr().As4()
		body = append(append(body, a[:]...), b[:]...)
	} else {
		fam = 0x21
		a, b := s.Addr().As16(), d.Addr().As16()
		body = append(append(body, a[:]...), b[:]...)
	}
	body = binary.BigEndian.AppendUint16(body, s.Port())
	body = binary.BigEndian.AppendUint16(body, d.Port())
	body = append(body, 0xEA, 0x00, 0x05, 0x01, 'v', 'p', 'c', 'e')
	cmd := byte(0x21)
	if local {
		cmd = 0x20
	}
	h = append(h, cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(body)))
	return append(h, body...)
}

// TestProxyProtocol: with -proxy-protocol, the header's source address is
// the client's (X-Forwarded-For, the access log), in either version, in
// one write with the request or byte by byte; the header is read once per
// connection; LOCAL keeps the connection's address.
func TestProxyProtocol(t *testing.T) {
	be := startScripted(t, serveOK)
	out := &syncBuffer{}
	alog := NewAccessLog(out, AccessLogJSON, nil)
	defer alog.Close()
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.ProxyProtocol = true
	cfg.AccessLog = alog
	s := startProxy(t, cfg)

	const req = "GET /p HTTP/1.1\r\nHost: p\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n"
	for _, tc := range []struct {
		name    string
		header  []byte
		trickle bool
		wantXFF string
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.10 10.0.0.5 41000 80\r\n"), false, "10.9.9.9, 192.0.2.10"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 41000 80\r\n"), false, "10.9.9.9, 2001:db8::7"},
		{"v1 tcp6 mapped", []byte("PROXY TCP6 ::ffff:192.0.2.11 ::1 41000 80\r\n"), false, "10.9.9.9, 192.0.2.11"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), false, "10.9.9.9, 127.0.0.1"},
		{"v2 inet", v2Header(false, "198.51.100.20:5555", "10.0.0.5:80"), false, "10.9.9.9, 198.51.100.20"},
		{"v2 inet6", v2Header(false, "[2001:db8::20]:5555", "[2001:db8::1]:80"), false, "10.9.9.9, 2001:db8::20"},
		{"v2 local", v2Header(true, "198.51.100.20:5555", "10.0.0.5:80"), false, "10.9.9.9, 127.0.0.1"},
		{"v2 byte by byte", v2Header(false, "198.51.100.21:5555", "10.0.0.5:80"), true, "10.9.9.9, 198.51.100.21"},
		{"v1 byte by byte", []byte("PROXY TCP4 192.0.2.12 10.0.0.5 41000 80\r\n"), true, "10.9.9.9, 192.0.2.12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(be.requests())
			c := dialRaw(t, s.Addr())
			if tc.trickle {
				for _, b := range tc.header {
					c.send(string([]byte{b}))
					time.Sleep(time.Millisecond)
				}
				c.send(req)
			} else {
				c.send(string(tc.header) + req)
			}
			expectStatus(t, c.resp("GET"), 200)
			// The next request on the connection has no header of its own.
			expectStatus(t, c.roundTrip("GET", req), 200)
			reqs := be.requests()
			if len(reqs) != n+2 {
				t.Fatalf("backend got %d requests, want 2", len(reqs)-n)
			}
			for _, up := range reqs[n:] {
				if got := up.get("X-Forwarded-For"); got != tc.wantXFF {
					t.Errorf("X-Forwarded-For %q, want %q", got, tc.wantXFF)
				}
			}
		})
	}
	if !eventually(5*time.Second, func() bool { return len(out.lines()) >= 2 }) {
		t.Fatal("no access log lines")
	}
	if l := out.lines()[0]; !strings.Contains(l, `"client":"192.0.2.10"`) {
		t.Errorf("access log line %s: want the PROXY source as the client", l)
	}
}

// TestProxyProtocolRequired: a connection without a valid header, or with a
// truncated or hostile one, is closed without an answer and counted; the
// next good one is served.
func TestProxyProtocolRequired(t *testing.T) {
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.ProxyProtocol = true
	cfg.Metrics = true
	cfg.HeaderTimeout = 300 * time.Millisecond
	s := startProxy(t, cfg)
	scrape := scrapeEngine(t, s)

	bad := []string{
		"GET / HTTP/1.1\r\nHost: p\r\n\r\n",                      // plain HTTP: reached PILB around the balancer
		"PROXY TCP4 192.0.2.1 10.0.0.5 41000 80\n",               // bare LF
		"PROXY TCP4 192.0.2.1 10.0.0.5 99999 80\r\n",             // bad port
		"PROXY TCP4 ::1 ::2 1 2\r\n",                             // wrong family
		"PROXY TCP6 " + string(make([]byte, 100)) + "\r\n",       // NULs, too long
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04\x01\x02\x03\x04", // v2 length short of its addresses
		"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c",                 // v2 version 3
	}
	for _, b := range bad {
		c := dialRaw(t, s.Addr())
		c.send(b)
		expectClosedSilently(t, c)
	}
	// Truncated: the header never completes; the header timeout closes it.
	c := dialRaw(t, s.Addr())
	c.send("PROXY TCP4 192.0.2.1 10.0")
	expectClosedSilently(t, c)
	c = dialRaw(t, s.Addr())
	c.send("\r\n\r\n\x00\r\nQU")
	expectClosedSilently(t, c)

	good := dialRaw(t, s.Addr())
	good.send("PROXY TCP4 192.0.2.1 10.0.0.5 41000 80\r\n")
	expectStatus(t, good.roundTrip("GET", "GET / HTTP/1.1\r\nHost: p\r\n\r\n"), 200)
	if got := metricValue(scrape(), "pilb_parse_rejections_total", "reason", "proxy_header"); got != float64(len(bad)) {
		t.Errorf("proxy_header rejections %v, want %d", got, len(bad))
	}
	if n := len(be.requests()); n != 1 {
		t.Errorf("backend saw %d requests, want only the good one", n)
	}
}

// expectClosedSilently: the server closes (or resets) the connection
// without writing a byte.
func expectClosedSilently(t *testing.T, c *rawConn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n > 0 {
		t.Fatalf("got %q, want no answer", buf[:n])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// TestTrustedProxies: X-Forwarded-Proto is kept from a trusted address and
// replaced by the listener's from any other; with the PROXY protocol the
// address judged is the header's source.
func TestTrustedProxies(t *testing.T) {
	be := startScripted(t, serveOK)
	const withHTTPS = "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\n\r\n"
	const without = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
	const hostile = "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https;evil=1\r\n\r\n"
	for _, tc := range []struct {
		name    string
		trusted string
		proxy   string // PROXY v1 header to send, if any
		req     string
		want    string
	}{
		{"trusted peer keeps https", "127.0.0.0/8", "", withHTTPS, "https"},
		{"trusted peer without the field", "127.0.0.0/8", "", without, "http"},
		{"trusted peer, malformed value", "127.0.0.0/8", "", hostile, "http"},
		{"untrusted peer is overwritten", "10.0.0.0/8", "", withHTTPS, "http"},
		{"no trusted proxies", "", "", withHTTPS, "http"},
		{"PROXY source trusted", "10.0.0.0/8", "PROXY TCP4 10.1.2.3 10.0.0.5 1 80\r\n", withHTTPS, "https"},
		{"PROXY source untrusted, peer trusted", "127.0.0.0/8", "PROXY TCP4 192.0.2.1 10.0.0.5 1 80\r\n", withHTTPS, "http"},
		{"trusted IPv6 prefix", "2001:db8::/32", "PROXY TCP6 2001:db8::5 2001:db8::1 1 80\r\n", withHTTPS, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e2eConfig()
			cfg.Backends = setOf(t, be.Addr())
			if tc.trusted != "" {
				cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
			}
			cfg.ProxyProtocol = tc.proxy != ""
			s := startProxy(t, cfg)
			n := len(be.requests())
			c := dialRaw(t, s.Addr())
			c.send(tc.proxy)
			expectStatus(t, c.roundTrip("GET", tc.req), 200)
			up := be.requests()[n]
			if got := up.all("X-Forwarded-Proto"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, tc.want)
			}
		})
	}
}
