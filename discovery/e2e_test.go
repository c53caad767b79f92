package discovery

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/engine"
	"github.com/pilb-proxy/pilb/internal/demobackend"
	"github.com/pilb-proxy/pilb/internal/dnstest"
)

// startDemoOn starts a demo backend at addr, stopped at the end of the
// test; it skips the test when the address cannot be bound (a host whose
// loopback is only 127.0.0.1).
func startDemoOn(t *testing.T, id, addr string) *demobackend.Server {
	t.Helper()
	s, err := demobackend.Start(demobackend.Config{ID: id, Addr: addr})
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// TestE2EDNSAnswersChangeUnderLoad: clients keep sending through the proxy
// while the DNS answer of the backends' name changes twice: an address
// added, one removed. Every address is a backend on the same port (three
// loopback addresses), no request fails, the removed address drains and
// then gets nothing, and the added one gets its share.
func TestE2EDNSAnswersChangeUnderLoad(t *testing.T) {
	first := startDemoOn(t, "d1", "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(first.Addr())
	demos := []*demobackend.Server{first, startDemoOn(t, "d2", "127.0.0.2:"+port), startDemoOn(t, "d3", "127.0.0.3:"+port)}

	f := dnstest.Start(t)
	f.SetIPs("app.test", "127.0.0.1", "127.0.0.2")
	reg, err := control.New(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := ParseTarget("app.test:"+port, control.SourceDNS)
	if err != nil {
		t.Fatal(err)
	}
	w := &Watcher{Targets: []Target{tg}, Resolver: &Resolver{Server: f.Addr}, Registry: reg, Interval: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	go reg.Run(ctx)

	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Loops: 2, Routes: reg.Routes(), ConnsPerBackend: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	})

	var stop atomic.Bool
	var failures, served atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for !stop.Load() {
				resp, err := client.Get("http://" + srv.Addr() + "/")
				if err != nil {
					t.Logf("request failed: %v", err)
					failures.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Logf("status %d", resp.StatusCode)
					failures.Add(1)
					continue
				}
				served.Add(1)
				mu.Lock()
				seen[resp.Header.Get("Server")]++
				mu.Unlock()
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if !settle(15*time.Second, cond) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("%s: not within 15s (seen %v)", what, seen)
		}
	}
	count := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[id]
	}
	waitFor("d1 and d2 serve", func() bool { return count("d1") > 50 && count("d2") > 50 })

	f.SetIPs("app.test", "127.0.0.1", "127.0.0.2", "127.0.0.3") // scale out
	waitFor("d3 serves", func() bool { return count("d3") > 50 })

	f.SetIPs("app.test", "127.0.0.2", "127.0.0.3") // scale in: d1 drains
	waitFor("d1 leaves the pool", func() bool {
		st, ok := reg.Backend("app.test@127.0.0.1:" + port)
		return !ok || st.State == control.StateDraining
	})
	afterDrain := demos[0].Requests()
	n := served.Load()
	waitFor("more requests", func() bool { return served.Load() > n+300 })
	stop.Store(true)
	wg.Wait()

	if f := failures.Load(); f != 0 {
		t.Fatalf("%d requests failed while the answers changed (served %d)", f, served.Load())
	}
	if got := demos[0].Requests() - afterDrain; got > 8 {
		t.Fatalf("d1 got %d requests after it drained, want at most those in flight", got)
	}
	if !settle(10*time.Second, func() bool { _, ok := reg.Backend("app.test@127.0.0.1:" + port); reg.Sweep(); return !ok }) {
		st, _ := reg.Backend("app.test@127.0.0.1:" + port)
		t.Fatalf("d1 never finished draining: %+v", st)
	}
}
