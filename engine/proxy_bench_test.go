package engine

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// The proxy benchmarks send keep-alive GETs one at a time over one raw TCP
// connection and read each fixed-size response whole: the figure is a
// proxied round trip on loopback. BenchmarkDirect is the same client
// against the backend alone, so the proxy's own cost is the difference;
// BenchmarkProxyNetHTTP is net/http's ReverseProxy doing the same job.
// allocs/op counts the whole process: client, proxy and backend.

const benchRequest = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: pilb-bench\r\n\r\n"

var benchRequestBytes = []byte(benchRequest)

// roundTripper is a zero-allocation keep-alive client for one fixed
// request whose response has a fixed length.
type roundTripper struct {
	c    net.Conn
	buf  []byte
	size int
}

func newRoundTripper(tb testing.TB, addr string) *roundTripper {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	rt := &roundTripper{c: c}
	// Learn the response size from one response read with net/http.
	if _, err := io.WriteString(c, benchRequest); err != nil {
		tb.Fatal(err)
	}
	var raw bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(c, &raw)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) == 0 {
		tb.Fatalf("status %d body %q", resp.StatusCode, b)
	}
	head := bytes.Index(raw.Bytes(), []byte("\r\n\r\n")) + 4
	rt.size = head + int(resp.ContentLength)
	rt.buf = make([]byte, rt.size)
	return rt
}

func (rt *roundTripper) do(tb testing.TB) {
	if _, err := rt.c.Write(benchRequestBytes); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(rt.c, rt.buf); err != nil {
		tb.Fatal(err)
	}
	if rt.buf[9] != '2' {
		tb.Fatalf("response %q", rt.buf)
	}
}

func benchRoundTrips(b *testing.B, addr string) {
	rt := newRoundTripper(b, addr)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rt.do(b)
	}
}

func BenchmarkProxy(b *testing.B) {
	s, _ := proxyToDemo(b, 1, Config{Loops: 1, ConnsPerBackend: 1})
	benchRoundTrips(b, s.Addr())
}

func BenchmarkDirect(b *testing.B) {
	demos := startDemo(b, 1)
	benchRoundTrips(b, demos[0].Addr())
}

func BenchmarkProxyNetHTTP(b *testing.B) {
	demos := startDemo(b, 1)
	target, _ := url.Parse("http://" + demos[0].Addr())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	benchRoundTrips(b, ln.Addr().String())
}

// BenchmarkAppendRequestHead is the upstream head rewrite alone.
func BenchmarkAppendRequestHead(b *testing.B) {
	l := newLoop(&Server{cfg: Config{}}, nil)
	req := []byte("GET /index.html?q=" + strconv.Itoa(42) + " HTTP/1.1\r\nHost: example.com\r\n" +
		"User-Agent: Mozilla/5.0\r\nAccept: */*\r\nConnection: keep-alive\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		l.req.Scanned = 0
		if _, err := parseRequestForTest(req, &l.req); err != nil {
			b.Fatal(err)
		}
		dst = appendRequestHead(dst[:0], &l.req, netip.MustParseAddr("127.0.0.1"), "http")
	}
}
