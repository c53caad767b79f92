package demobackend

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
)

// benchKeepAlive sends b.N keep-alive GET / requests, one at a time, over
// one raw connection to addr, reading each response.
func benchKeepAlive(b *testing.B, addr string) {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkRootKeepAlive(b *testing.B) {
	s, err := Start(Config{ID: "s1", Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop(b.Context())
	benchKeepAlive(b, s.Addr())
}

func BenchmarkRootKeepAliveNetHTTP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("hello from s1\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "s1")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	benchKeepAlive(b, ln.Addr().String())
}
