package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// TestMonitorURI: the monitor URI is answered by PILB, 200 while the
// monitored pool has an available backend and 503 once it has none; the
// connection stays usable for proxied requests; other paths, and the same
// path with another prefix, are proxied.
func TestMonitorURI(t *testing.T) {
	demos := startDemo(t, 2)
	api := &pool.Backend{ID: "a1", Addr: demos[0].Addr(), Pool: "api"}
	web := &pool.Backend{ID: "w1", Addr: demos[1].Addr()}
	cfg := e2eConfig()
	cfg.Routes = pool.NewRoutes(routedTable(t, map[string][]*pool.Backend{"api": {api}, "default": {web}}, "/api/=api"))
	cfg.MonitorURI = "/-/health"
	cfg.MonitorPool = "api"
	s := startProxy(t, cfg)

	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET /-/health HTTP/1.1\r\nHost: lb\r\n\r\n")
	expectStatus(t, m, 200)
	if string(m.body) != "ok\n" || m.has("Server") || m.has("Connection") {
		t.Fatalf("monitor answer head %q body %q", m.head, m.body)
	}
	expectStatus(t, c.roundTrip("GET", "GET /-/health?from=nlb HTTP/1.1\r\nHost: lb\r\n\r\n"), 200)
	if m := c.roundTrip("HEAD", "HEAD /-/health HTTP/1.1\r\nHost: lb\r\n\r\n"); m.status() != 200 || len(m.body) != 0 {
		t.Fatalf("HEAD: %q %q", m.line, m.body)
	}
	// The same connection proxies other paths; a path that only starts
	// with the monitor URI is not it.
	m = c.roundTrip("GET", "GET /-/healthz HTTP/1.1\r\nHost: lb\r\n\r\n")
	if m.status() != 200 || m.get("Server") != "s2" {
		t.Fatalf("proxied: %q server %q", m.line, m.get("Server"))
	}

	api.SetHealthy(false)
	m = c.roundTrip("GET", "GET /-/health HTTP/1.1\r\nHost: lb\r\n\r\n")
	expectStatus(t, m, 503)
	if string(m.body) != "no available backend\n" {
		t.Fatalf("body %q", m.body)
	}
	if ok, reason := s.Health(); ok || reason != "no available backend" {
		t.Fatalf("Health() = %v, %q", ok, reason)
	}
	// The default pool is up, and serves.
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: lb\r\n\r\n"), 200)

	api.SetHealthy(true)
	// HTTP/1.0, and a request with a body, are answered and closed.
	c10 := dialRaw(t, s.Addr())
	expectStatus(t, c10.roundTrip("GET", "GET /-/health HTTP/1.0\r\n\r\n"), 200)
	c10.expectEOF()
	cb := dialRaw(t, s.Addr())
	m = cb.roundTrip("POST", "POST /-/health HTTP/1.1\r\nHost: lb\r\nContent-Length: 4\r\n\r\nbody")
	if m.status() != 200 || m.get("Connection") != "close" {
		t.Fatalf("with a body: %q %q", m.line, m.head)
	}
	cb.expectEOF()
}

// TestHealthWhileDraining: once the drain starts, Health says so (the
// monitor URI answers it to connections still served: see the listener's
// tests).
func TestHealthWhileDraining(t *testing.T) {
	release := make(chan struct{})
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.Contains(m.line, "/slow") {
				<-release
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.MonitorURI = "/-/health"
	s := startProxy(t, cfg)
	if ok, reason := s.Health(); !ok || reason != "ok" {
		t.Fatalf("Health() = %v, %q", ok, reason)
	}
	c := dialRaw(t, s.Addr())
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	done := shutdownAsync(s)
	if !eventually(5*time.Second, func() bool { ok, reason := s.Health(); return !ok && reason == "draining" }) {
		t.Fatal("Health() does not say draining")
	}
	close(release)
	expectStatus(t, c.resp("GET"), 200)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
