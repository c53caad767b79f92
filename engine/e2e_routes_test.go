package engine

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// routedTable builds a table of named pools of backends and routes.
func routedTable(t testing.TB, pools map[string][]*pool.Backend, routes ...string) *pool.Table {
	t.Helper()
	var ps []*pool.Pool
	for name, bs := range pools {
		ps = append(ps, pool.NewPool(name, bs, nil))
	}
	var rs []pool.Route
	for _, s := range routes {
		r, err := pool.ParseRoute(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	tbl, err := pool.NewTable(ps, rs)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestE2ERoutesByHostAndPrefix: on one keep-alive connection, each request
// goes to the pool its Host (any case, any port) or path prefix names, the
// most specific first, and the rest to the default pool; a routed pool
// with no backend is 503.
func TestE2ERoutesByHostAndPrefix(t *testing.T) {
	demos := startDemo(t, 3)
	b := func(i int) *pool.Backend { return &pool.Backend{ID: demos[i].ID(), Addr: demos[i].Addr()} }
	tbl := routedTable(t, map[string][]*pool.Backend{
		"api": {b(0)}, "static": {b(1)}, "default": {b(2)},
	}, "api.example.com=api", "/static/=static", "api.example.com/static/=static", "/empty/=nobody")
	cfg := e2eConfig()
	cfg.Routes = pool.NewRoutes(tbl)
	s := startProxy(t, cfg)

	c := dialRaw(t, s.Addr())
	for _, tt := range []struct {
		host, target string
		status       int
		server       string
	}{
		{"api.example.com", "/users", 200, "s1"},
		{"API.Example.COM:8080", "/", 200, "s1"},
		{"www.example.com", "/static/app.js", 200, "s2"},
		{"api.example.com", "/static/app.js", 200, "s2"}, // host and prefix beats host alone
		{"www.example.com", "/index.html", 200, "s3"},
		{"www.example.com", "/staticky", 200, "s3"},
		{"API.example.com:80", "http://api.example.com/x", 200, "s1"}, // absolute-form (its Host must agree: httpparse)
		{"api.example.com", "/users", 200, "s1"},
	} {
		m := c.roundTrip("GET", fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", tt.target, tt.host))
		if m.status() != tt.status || m.get("Server") != tt.server {
			t.Fatalf("Host %s %s: %d from %q, want %d from %s", tt.host, tt.target, m.status(), m.get("Server"), tt.status, tt.server)
		}
	}
	m := c.roundTrip("GET", "GET /empty/x HTTP/1.1\r\nHost: a\r\n\r\n")
	expectStatus(t, m, 503)
}

// TestE2ERoutesRetryStaysInPool: a retry after a failed connect picks in
// the request's pool, never in another.
func TestE2ERoutesRetryStaysInPool(t *testing.T) {
	demos := startDemo(t, 2)
	dead := &pool.Backend{ID: "dead", Addr: closedAddr(t)}
	live := &pool.Backend{ID: "s1", Addr: demos[0].Addr()}
	other := &pool.Backend{ID: "s2", Addr: demos[1].Addr()}
	tbl := routedTable(t, map[string][]*pool.Backend{"api": {dead, live}, "default": {other}}, "/api/=api")
	cfg := e2eConfig()
	cfg.Routes = pool.NewRoutes(tbl)
	cfg.ConnsPerBackend = 0
	s := startProxy(t, cfg)

	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 20 {
		resp, _ := get(t, client, "http://"+s.Addr()+"/api/x")
		if resp.StatusCode != 200 || resp.Header.Get("Server") != "s1" {
			t.Fatalf("request %d: %d from %q, want 200 from s1", i, resp.StatusCode, resp.Header.Get("Server"))
		}
	}
}

// TestE2ERoutesTableChangesUnderLoad: clients keep sending while the
// control plane publishes new tables: a backend drained and taken out, a
// new one added. No request fails, the drained backend gets nothing new,
// and its pooled connections are closed.
func TestE2ERoutesTableChangesUnderLoad(t *testing.T) {
	demos := startDemo(t, 3)
	bs := make([]*pool.Backend, 3)
	for i, d := range demos {
		bs[i] = &pool.Backend{ID: d.ID(), Addr: d.Addr()}
	}
	routes := pool.NewRoutes(routedTable(t, map[string][]*pool.Backend{"default": bs[:2]}))
	cfg := e2eConfig()
	cfg.Routes = routes
	cfg.Loops = 2
	s := startProxy(t, cfg)

	var stop atomic.Bool
	var failures, served atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for !stop.Load() {
				resp, err := client.Get("http://" + s.Addr() + "/")
				if err != nil {
					failures.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
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
	waitServed := func(n int64) {
		t.Helper()
		target := served.Load() + n
		if !eventually(10*time.Second, func() bool { return served.Load() >= target }) {
			t.Fatalf("load stalled at %d requests", served.Load())
		}
	}
	waitServed(200)

	// Drain s1, then publish a table without it and with s3.
	bs[0].SetDraining(true)
	routes.Store(routedTable(t, map[string][]*pool.Backend{"default": {bs[1], bs[2]}}))
	before := demos[0].Requests()
	waitServed(500)
	stop.Store(true)
	wg.Wait()

	if f := failures.Load(); f != 0 {
		t.Fatalf("%d requests failed across the table change", f)
	}
	if after := demos[0].Requests(); after > before+uint64(cfg.Loops)*4 {
		// A request picked just before the drain may still land; a
		// handful at most (one per client in flight).
		t.Fatalf("drained s1 got %d requests after its drain", after-before)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["s3"] == 0 {
		t.Fatalf("added s3 got no request: %v", seen)
	}
	if !eventually(5*time.Second, func() bool { return bs[0].Conns() == 0 }) {
		t.Fatalf("drained s1 still has %d connections from the proxy", bs[0].Conns())
	}
}
