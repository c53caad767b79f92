package httpparse

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// wrkRequest is the request a wrk benchmark sends.
const wrkRequest = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"

// benchResponse is a typical backend response head.
const benchResponse = "HTTP/1.1 200 OK\r\n" +
	"Server: s1\r\n" +
	"Date: Mon, 27 Jan 2025 10:00:00 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 1234\r\n" +
	"Cache-Control: private, max-age=0\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Set-Cookie: session_id=3f9a8c7e6b5d4a3f2e1d0c9b8a7f6e5d; Path=/; HttpOnly; Secure; SameSite=Lax\r\n" +
	"\r\n"

var benchRequests = []struct{ name, in string }{
	{"browser", browserRequest},
	{"wrk", wrkRequest},
}

func BenchmarkParseRequest(b *testing.B) {
	for _, c := range benchRequests {
		b.Run(c.name, func(b *testing.B) {
			buf := []byte(c.in)
			var r Request
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseRequest(buf, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseRequestNetHTTP is the net/http baseline over the same
// bytes: http.ReadRequest on a bufio.Reader reset each iteration.
func BenchmarkParseRequestNetHTTP(b *testing.B) {
	for _, c := range benchRequests {
		b.Run(c.name, func(b *testing.B) {
			buf := []byte(c.in)
			rd := bytes.NewReader(buf)
			br := bufio.NewReader(rd)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(buf)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseRequestFasthttp is the fasthttp baseline over the same
// bytes: RequestHeader.Read on a bufio.Reader reset each iteration.
func BenchmarkParseRequestFasthttp(b *testing.B) {
	for _, c := range benchRequests {
		b.Run(c.name, func(b *testing.B) {
			buf := []byte(c.in)
			rd := bytes.NewReader(buf)
			br := bufio.NewReader(rd)
			var h fasthttp.RequestHeader
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(buf)
				br.Reset(rd)
				h.Reset()
				if err := h.Read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseRequestTrickle parses the browser request arriving in
// 64-byte segments, each call resuming from Scanned.
func BenchmarkParseRequestTrickle(b *testing.B) {
	buf := []byte(browserRequest)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		r.Scanned = 0
		for k := 64; ; k += 64 {
			k = min(k, len(buf))
			_, err := ParseRequest(buf[:k], &r)
			if err == nil {
				break
			}
			if err != ErrNeedMore {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte(benchResponse)
	var r Response
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(buf, &r, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponseNetHTTP(b *testing.B) {
	buf := []byte(benchResponse)
	rd := bytes.NewReader(buf)
	br := bufio.NewReader(rd)
	req := &http.Request{Method: "GET"}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(buf)
		br.Reset(rd)
		if _, err := http.ReadResponse(br, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponseFasthttp(b *testing.B) {
	buf := []byte(benchResponse)
	rd := bytes.NewReader(buf)
	br := bufio.NewReader(rd)
	var h fasthttp.ResponseHeader
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(buf)
		br.Reset(rd)
		h.Reset()
		if err := h.Read(br); err != nil {
			b.Fatal(err)
		}
	}
}

// chunkedBody builds a chunked body of n chunks of size bytes each.
func chunkedBody(n, size int) []byte {
	var b bytes.Buffer
	chunk := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		b.WriteString(strconv.FormatInt(int64(size), 16) + "\r\n" + chunk + "\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func BenchmarkChunkedScan(b *testing.B) {
	for _, c := range []struct {
		name     string
		n, size  int
		segments int
	}{
		{"16x4KiB", 16, 4096, 1},
		{"256x16B", 256, 16, 1},
		{"16x4KiB-in-1KiB-reads", 16, 4096, 1024},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := chunkedBody(c.n, c.size)
			var s ChunkedScanner
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset()
				p := body
				step := len(body)
				if c.segments > 1 {
					step = c.segments
				}
				for len(p) > 0 {
					k := min(step, len(p))
					n, done, err := s.Scan(p[:k])
					if err != nil {
						b.Fatal(err)
					}
					p = p[n:]
					if done {
						break
					}
				}
			}
		})
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	body := chunkedBody(256, 16)
	var s ChunkedScanner
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.Reset()
		p := body
		for len(p) > 0 {
			n, _, done, err := s.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
			if done {
				break
			}
		}
	}
}
