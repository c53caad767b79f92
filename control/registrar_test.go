package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flaky wraps the admin API: while down it drops every connection without
// an answer, as a proxy that is restarting; it counts the POSTs that got
// through.
type flaky struct {
	h     atomic.Pointer[Handler]
	down  atomic.Bool
	posts atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if f.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if req.Method == http.MethodPost {
		f.posts.Add(1)
	}
	f.h.Load().ServeHTTP(w, req)
}

func eventually(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestRegistrarLifecycle(t *testing.T) {
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := new(flaky)
	f.h.Store(&Handler{Registry: r, Token: "t"})
	f.down.Store(true) // the proxy is not up yet
	srv := httptest.NewServer(f)
	defer srv.Close()

	g := &Registrar{URL: srv.URL + "/", Token: "t", Spec: Spec{ID: "s1", Pool: "api", Addr: ":5000", Weight: 2}, TTL: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	time.Sleep(300 * time.Millisecond) // a few refused attempts
	if _, ok := r.Backend("s1"); ok {
		t.Fatal("registered while the proxy was down")
	}
	f.down.Store(false)
	if !eventually(10*time.Second, func() bool { _, ok := r.Backend("s1"); return ok }) {
		t.Fatal("not registered once the proxy came up")
	}
	st, _ := r.Backend("s1")
	if st.Addr != "127.0.0.1:5000" || st.Pool != "api" || st.Weight != 2 || st.TTL != "1s" {
		t.Fatalf("registered as %+v", st)
	}
	// Heartbeats every third of the ttl keep it past several ttls.
	n := f.posts.Load()
	if !eventually(10*time.Second, func() bool { return f.posts.Load() >= n+4 }) {
		t.Fatalf("refreshes: %d POSTs, want %d", f.posts.Load(), n+4)
	}
	r.Sweep()
	if st, _ := r.Backend("s1"); st.State != StateUp {
		t.Fatalf("after refreshes: %+v", st)
	}

	// The proxy restarts and forgets everything: the next refresh
	// registers again (201).
	f.down.Store(true)
	r2, _ := New(Config{})
	f.h.Store(&Handler{Registry: r2, Token: "t"})
	f.down.Store(false)
	if !eventually(10*time.Second, func() bool { _, ok := r2.Backend("s1"); return ok }) {
		t.Fatal("not registered again after the proxy restarted")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := g.Deregister(dctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := r2.Backend("s1"); st.State != StateDraining {
		t.Fatalf("after Deregister: %+v", st)
	}
	// Deregistering what the proxy no longer has is fine.
	r2.Sweep()
	if err := g.Deregister(dctx); err != nil {
		t.Fatalf("second Deregister: %v", err)
	}
}

func TestRegistrarRefused(t *testing.T) {
	r, _ := New(Config{})
	srv := httptest.NewServer(&Handler{Registry: r, Token: "right"})
	defer srv.Close()
	g := &Registrar{URL: srv.URL, Token: "wrong", Spec: Spec{ID: "s1", Addr: ":5000"}}
	_, err := g.register(context.Background())
	if !errors.Is(err, ErrRegister) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("wrong token: %v, want the proxy's reason", err)
	}
	g.Token = "right"
	g.Spec.Addr = "db.internal:5000"
	if _, err := g.register(context.Background()); !errors.Is(err, ErrRegister) || !strings.Contains(err.Error(), "IP address") {
		t.Fatalf("bad addr: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, u := range []string{"http://proxy:9090", "https://10.0.0.1:9090/", "http://[::1]:9090"} {
		if err := CheckURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "proxy:9090", "ftp://proxy", "http://", "http://p:9090/?x=1"} {
		if err := CheckURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestJitter(t *testing.T) {
	for range 1000 {
		if d := jitter(time.Second); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("jitter(1s) = %v", d)
		}
	}
}
