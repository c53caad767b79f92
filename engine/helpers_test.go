package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/internal/demobackend"
	"github.com/pilb-proxy/pilb/pool"
)

// testLogger logs at debug when PILB_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PILB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startDemo starts n demo backends s1..sn.
func startDemo(t testing.TB, n int) []*demobackend.Server {
	t.Helper()
	var out []*demobackend.Server
	for i := 1; i <= n; i++ {
		s, err := demobackend.Start(demobackend.Config{ID: fmt.Sprintf("s%d", i), Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
		})
		out = append(out, s)
	}
	return out
}

// setOf builds a backend set of addresses, IDs s1..sn.
func setOf(t testing.TB, addrs ...string) *pool.Set {
	t.Helper()
	set := &pool.Set{}
	for i, a := range addrs {
		if err := set.Add(&pool.Backend{ID: fmt.Sprintf("s%d", i+1), Addr: a}); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

// startProxy starts the engine on a free loopback port with cfg (Addr and
// Logger filled in) and stops it at the end of the test.
func startProxy(t testing.TB, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// proxyToDemo starts n demo backends and a proxy in front of them.
func proxyToDemo(t testing.TB, n int, cfg Config) (*Server, []*demobackend.Server) {
	t.Helper()
	demos := startDemo(t, n)
	var addrs []string
	for _, d := range demos {
		addrs = append(addrs, d.Addr())
	}
	cfg.Backends = setOf(t, addrs...)
	return startProxy(t, cfg), demos
}

// rawConn is a raw TCP client for exact bytes.
type rawConn struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// body reads and closes resp's body.
func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// expectEOF asserts the server closes the connection.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.r.ReadByte()
	if err == nil {
		rest, _ := c.r.Peek(c.r.Buffered())
		c.t.Fatalf("expected close, got %q", string(b)+string(rest))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatal("expected close, connection still open")
	}
}

func get(t testing.TB, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body(t, resp)
}

// parseRequestForTest parses a request head into r.
func parseRequestForTest(buf []byte, r *httpparse.Request) (int, error) {
	return httpparse.ParseRequest(buf, r)
}
