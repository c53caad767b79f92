package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listenTCP opens a loopback listener for listener mode.
func listenTCP(t testing.TB) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.(*net.TCPListener)
}

// shareListener returns another listener on ln's socket, as a process that
// inherited it would have: File dups the descriptor, FileListener dups it
// again (neither touches its blocking mode).
func shareListener(t testing.TB, ln *net.TCPListener) *net.TCPListener {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l2, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return l2.(*net.TCPListener)
}

// startOnListener starts a server in listener mode on ln.
func startOnListener(t testing.TB, cfg Config, ln *net.TCPListener) *Server {
	t.Helper()
	cfg.Listener = ln
	cfg.Addr = ln.Addr().String()
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
	select {
	case <-s.Accepting():
	case <-time.After(10 * time.Second):
		t.Fatal("not accepting after 10s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// TestListenerMode: a server given its listener serves keep-alive and
// one-shot clients, pre-dials its backends, and on Shutdown stops
// accepting: a connection made afterwards is refused by the kernel, not
// accepted and closed.
func TestListenerMode(t *testing.T) {
	demos := startDemo(t, 2)
	cfg := Config{Loops: 2, ConnsPerBackend: 1, Backends: setOf(t, demos[0].Addr(), demos[1].Addr())}
	ln := listenTCP(t)
	s := startOnListener(t, cfg, ln)

	// Pre-dialed before any client: both loops, both backends.
	if !eventually(5*time.Second, func() bool {
		n := int64(0)
		for _, b := range s.cfg.Routes.Load().Backends() {
			n += b.Conns()
		}
		return n == 4
	}) {
		t.Fatal("backends not pre-dialed in listener mode")
	}
	ka := &http.Client{Timeout: 5 * time.Second}
	once := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[string]bool{}
	for i := range 8 {
		c := ka
		if i%2 == 1 {
			c = once
		}
		resp, body := get(t, c, "http://"+s.Addr()+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		seen[body] = true
	}
	if len(seen) != 2 {
		t.Fatalf("answers %v, want both backends", seen)
	}
	ka.CloseIdleConnections()
	shutdownClean(t, s)
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after Shutdown")
	}
}

// TestListenerModeMonitorWhileDraining: in listener mode a connection
// accepted before the drain is served, and a monitor request on it during
// the drain's grace is answered 503 draining, with Connection: close.
func TestListenerModeMonitorWhileDraining(t *testing.T) {
	demos := startDemo(t, 1)
	cfg := Config{Loops: 1, Backends: setOf(t, demos[0].Addr()), Operations: Operations{
		MonitorURI: "/-/health", DrainIdleGrace: 5 * time.Second}}
	s := startOnListener(t, cfg, listenTCP(t))
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET /-/health HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	done := shutdownAsync(s)
	if !eventually(5*time.Second, func() bool { ok, _ := s.Health(); return !ok }) {
		t.Fatal("not draining")
	}
	m := c.roundTrip("GET", "GET /-/health HTTP/1.1\r\nHost: a\r\n\r\n")
	expectStatus(t, m, 503)
	if string(m.body) != "draining\n" || m.get("Connection") != "close" {
		t.Fatalf("while draining: %q %q", m.head, m.body)
	}
	c.expectEOF()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// loadResult counts what a load loop saw.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
}

func (r *loadResult) fail(err error) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, err.Error())
	}
	r.mu.Unlock()
}

// runLoad runs conns clients against addr until stop is closed. Each sends
// a request, reads the whole response and checks its status; keepAlive
// clients reuse their connection until told Connection: close, the others
// send Connection: close. Any error is a failure: the clients retry
// nothing, as wrk does not.
func runLoad(addr string, conns int, keepAlive bool, stop <-chan struct{}) *loadResult {
	r := &loadResult{}
	var wg sync.WaitGroup
	req := "GET / HTTP/1.1\r\nHost: load\r\n\r\n"
	if !keepAlive {
		req = "GET / HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n"
	}
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
						r.fail(fmt.Errorf("dial: %w", err))
						c = nil
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReader(c)
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				resp, err := func() (*http.Response, error) {
					if _, err := io.WriteString(c, req); err != nil {
						return nil, err
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						return nil, err
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return resp, err
				}()
				switch {
				case err != nil:
					r.fail(err)
				case resp.StatusCode != 200:
					r.fail(fmt.Errorf("status %d", resp.StatusCode))
				default:
					r.ok.Add(1)
				}
				if err != nil || resp.Close {
					c.Close()
					c = nil
				}
			}
		}()
	}
	go func() { wg.Wait(); close(doneOf(r)) }()
	return r
}

var loadDone sync.Map // *loadResult -> chan struct{}

func doneOf(r *loadResult) chan struct{} {
	ch, _ := loadDone.LoadOrStore(r, make(chan struct{}))
	return ch.(chan struct{})
}

// TestListenerHandover: a second server on the same socket takes over
// from the first under load, keep-alive and not, and not one request
// fails: the first stops accepting without closing what the kernel queued,
// and answers the next request of each keep-alive client with Connection:
// close rather than closing under it.
func TestListenerHandover(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			demos := startDemo(t, 2)
			cfg := Config{Loops: 2, ConnsPerBackend: 2, Backends: setOf(t, demos[0].Addr(), demos[1].Addr()),
				Operations: Operations{DrainIdleGrace: time.Second, Metrics: true}}
			ln := listenTCP(t)
			old := startOnListener(t, cfg, ln)
			shared := shareListener(t, ln)

			stop := make(chan struct{})
			res := runLoad(old.Addr(), 8, keepAlive, stop)
			time.Sleep(300 * time.Millisecond)
			before := res.ok.Load()

			cfg.Backends = setOf(t, demos[0].Addr(), demos[1].Addr())
			next := startOnListener(t, cfg, shared)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := old.Shutdown(ctx); err != nil {
				t.Fatalf("old server's drain: %v", err)
			}
			atHandover := res.ok.Load()
			time.Sleep(500 * time.Millisecond)
			close(stop)
			<-doneOf(res)

			t.Logf("%d requests before the new server, %d by the end of the drain, %d in all; %d failed",
				before, atHandover, res.ok.Load(), res.failed.Load())
			if n := res.failed.Load(); n != 0 {
				t.Fatalf("%d requests failed across the handover: %v", n, res.errs)
			}
			if res.ok.Load() <= atHandover || before == 0 {
				t.Fatalf("load did not go on: %d before, %d at handover, %d at the end", before, atHandover, res.ok.Load())
			}
			if scrapeOld := old.clients.Load(); scrapeOld != 0 {
				t.Fatalf("old server still has %d clients", scrapeOld)
			}
			_ = next
		})
	}
}
