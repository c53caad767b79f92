package control

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// clock is a settable clock for the registry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestRegistry(t *testing.T, cfg Config) (*Registry, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.now
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// ids returns the ids of a pool in the current table, in rotation order.
func ids(r *Registry, poolName string) []string {
	p := r.Routes().Load().Pool(poolName)
	if p == nil {
		return nil
	}
	var out []string
	for _, b := range p.Backends() {
		out = append(out, b.ID)
	}
	return out
}

func mustRegister(t *testing.T, r *Registry, s Spec, ttl time.Duration, wantCreated bool) Status {
	t.Helper()
	st, created, err := r.Register(s, ttl)
	if err != nil {
		t.Fatalf("Register(%+v): %v", s, err)
	}
	if created != wantCreated {
		t.Fatalf("Register(%+v): created=%v, want %v", s, created, wantCreated)
	}
	return st
}

func TestRegistryEmptyTable(t *testing.T) {
	rt, _ := pool.ParseRoute("/static/=static")
	r, _ := newTestRegistry(t, Config{Routes: []pool.Route{rt}})
	tbl := r.Routes().Load()
	if tbl.Pool("default") == nil || tbl.Pool("static") == nil || len(tbl.Backends()) != 0 {
		t.Fatalf("initial table: pools %v", tbl.Pools())
	}
	if _, err := New(Config{Policy: "random"}); !errors.Is(err, pool.ErrUnknownPolicy) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestRegistryRegisterRefreshMove(t *testing.T) {
	r, c := newTestRegistry(t, Config{})
	st := mustRegister(t, r, Spec{ID: "s1", Pool: "api", Addr: "10.0.1.5:5000"}, 30*time.Second, true)
	if st.State != StateUp || st.Pool != "api" || st.Weight != 1 || st.Source != SourceAPI || st.TTL != "30s" {
		t.Fatalf("status %+v", st)
	}
	if got := ids(r, "api"); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("pool api %v", got)
	}
	b := r.Routes().Load().Pool("api").Backends()[0]
	tbl := r.Routes().Load()

	// A heartbeat changes nothing the loops see.
	c.add(10 * time.Second)
	st = mustRegister(t, r, Spec{ID: "s1", Pool: "api", Addr: "10.0.1.5:5000"}, 30*time.Second, false)
	if r.Routes().Load() != tbl || !st.Expires.Equal(c.now().Add(30*time.Second)) {
		t.Fatalf("refresh republished the table or did not extend the ttl: %+v", st)
	}

	// A new weight is a new list, so Weighted rebuilds.
	mustRegister(t, r, Spec{ID: "s1", Pool: "api", Addr: "10.0.1.5:5000", Weight: 3}, 30*time.Second, false)
	if r.Routes().Load() == tbl || b.Weight() != 3 || r.Routes().Load().Pool("api").Backends()[0] != b {
		t.Fatal("reweight: want a new table with the same backend at weight 3")
	}

	// A new address moves the id; the old backend drains.
	st = mustRegister(t, r, Spec{ID: "s1", Pool: "api", Addr: "10.0.1.6:5000"}, 30*time.Second, false)
	if st.Addr != "10.0.1.6:5000" || !b.Draining() {
		t.Fatalf("move: %+v, old draining=%v", st, b.Draining())
	}
	all := r.Backends()
	if len(all) != 2 || all[0].Addr != "10.0.1.6:5000" || all[1].State != StateDraining || all[1].Reason == "" {
		t.Fatalf("after move: %+v", all)
	}
	// The old one holds a request: it stays listed until that ends.
	b.Acquire()
	r.Sweep()
	if len(r.Backends()) != 2 {
		t.Fatal("draining backend with a request in flight was forgotten")
	}
	b.Release()
	r.Sweep()
	if len(r.Backends()) != 1 {
		t.Fatal("drained backend not forgotten")
	}

	// A move to another pool.
	mustRegister(t, r, Spec{ID: "s1", Pool: "web", Addr: "10.0.1.6:5000"}, 0, false)
	if len(ids(r, "api")) != 0 || !slices.Equal(ids(r, "web"), []string{"s1"}) {
		t.Fatalf("pool move: api %v web %v", ids(r, "api"), ids(r, "web"))
	}
	if r.Routes().Load().Pool("api") != nil {
		t.Fatal("empty unrouted pool api kept in the table")
	}
}

func TestRegistryExpiry(t *testing.T) {
	r, c := newTestRegistry(t, Config{})
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 3*time.Second, true)
	mustRegister(t, r, Spec{ID: "b", Addr: "10.0.0.2:80"}, 0, true)
	c.add(2 * time.Second)
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 3*time.Second, false)
	c.add(2 * time.Second) // 4 s after the first registration, 2 s after the refresh
	r.Sweep()
	if got := ids(r, "default"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("refreshed backend expired: %v", got)
	}
	c.add(1500 * time.Millisecond)
	r.Sweep()
	if got := ids(r, "default"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after the ttl: %v, want [b]", got)
	}
	// Forgotten at once: no request, no connection.
	if st, ok := r.Backend("a"); ok {
		t.Fatalf("expired backend still listed: %+v", st)
	}
	// It may register again: a new backend.
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 3*time.Second, true)
}

func TestRegistryDeregister(t *testing.T) {
	r, _ := newTestRegistry(t, Config{})
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 0, true)
	b := r.Routes().Load().Backends()[0]
	b.Acquire()
	st, err := r.Deregister("a")
	if err != nil || st.State != StateDraining || st.InFlight != 1 || !b.Draining() {
		t.Fatalf("Deregister: %+v, %v", st, err)
	}
	if len(r.Routes().Load().Backends()) != 0 {
		t.Fatal("deregistered backend still in the table")
	}
	if _, err := r.Deregister("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Deregister: %v", err)
	}
	if st, ok := r.Backend("a"); !ok || st.State != StateDraining {
		t.Fatalf("draining backend not listed: %+v", st)
	}
	// The id may be registered again while the old one drains.
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 0, true)
	if st, _ := r.Backend("a"); st.State != StateUp {
		t.Fatalf("Backend(a) = %+v, want the new, active one", st)
	}
	b.Release()
}

func TestRegistryRefusals(t *testing.T) {
	r, _ := newTestRegistry(t, Config{MaxBackends: 3})
	if err := r.Replace("-backends", SourceFlag, []Spec{{ID: "b1", Addr: "10.0.0.1:80"}}); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.2:80"}, 0, true)
	before := r.Routes().Load()
	for _, tt := range []struct {
		s    Spec
		ttl  time.Duration
		want error
	}{
		{Spec{ID: "b1", Addr: "10.0.0.9:80"}, 0, ErrConflict},  // a flag backend's id
		{Spec{ID: "c", Addr: "10.0.0.1:80"}, 0, ErrConflict},   // a flag backend's address
		{Spec{ID: "c", Addr: "10.0.0.2:80"}, 0, ErrConflict},   // another id's address
		{Spec{ID: "", Addr: "10.0.0.3:80"}, 0, ErrInvalid},     // no id
		{Spec{ID: "a/b", Addr: "10.0.0.3:80"}, 0, ErrInvalid},  // bad id
		{Spec{ID: "c", Addr: "db.internal:80"}, 0, ErrInvalid}, // a name
		{Spec{ID: "c", Addr: "10.0.0.3"}, 0, ErrInvalid},       // no port
		{Spec{ID: "c", Addr: "10.0.0.3:0"}, 0, ErrInvalid},     // port 0
		{Spec{ID: "c", Addr: "224.0.0.1:80"}, 0, ErrInvalid},   // multicast
		{Spec{ID: "c", Addr: "10.0.0.3:80", Weight: 999}, 0, ErrInvalid},
		{Spec{ID: "c", Addr: "10.0.0.3:80", Pool: "a b"}, 0, ErrInvalid},
		{Spec{ID: "c", Addr: "10.0.0.3:80"}, time.Millisecond, ErrInvalid},
		{Spec{ID: "c", Addr: "10.0.0.3:80"}, 48 * time.Hour, ErrInvalid},
	} {
		if _, _, err := r.Register(tt.s, tt.ttl); !errors.Is(err, tt.want) {
			t.Errorf("Register(%+v, %v): %v, want %v", tt.s, tt.ttl, err, tt.want)
		}
	}
	if _, err := r.Deregister("b1"); !errors.Is(err, ErrConflict) {
		t.Errorf("Deregister of a flag backend: %v", err)
	}
	if r.Routes().Load() != before {
		t.Fatal("a refused request changed the table")
	}
	mustRegister(t, r, Spec{ID: "c", Addr: "10.0.0.3:80"}, 0, true)
	if _, _, err := r.Register(Spec{ID: "d", Addr: "10.0.0.4:80"}, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("past MaxBackends: %v", err)
	}
	// The same address in another pool is another backend.
	if _, err := r.Deregister("c"); err != nil {
		t.Fatal(err)
	}
	r.Sweep()
	mustRegister(t, r, Spec{ID: "d", Pool: "other", Addr: "10.0.0.2:80"}, 0, true)
}

func TestRegistryAddressCanonical(t *testing.T) {
	r, _ := newTestRegistry(t, Config{})
	st := mustRegister(t, r, Spec{ID: "a", Addr: "[::ffff:10.0.0.1]:80"}, 0, true)
	if st.Addr != "10.0.0.1:80" {
		t.Fatalf("addr %q, want 10.0.0.1:80", st.Addr)
	}
	if _, _, err := r.Register(Spec{ID: "b", Addr: "10.0.0.1:80"}, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("the same address spelled another way: %v", err)
	}
	st = mustRegister(t, r, Spec{ID: "v6", Addr: "[2001:DB8::1]:80"}, 0, true)
	if st.Addr != "[2001:db8::1]:80" {
		t.Fatalf("addr %q", st.Addr)
	}
}

// TestRegistryReplace: a source's whole answer each time; unchanged
// backends keep their Backend, missing ones drain, weights follow.
func TestRegistryReplace(t *testing.T) {
	r, _ := newTestRegistry(t, Config{Policy: pool.PolicyWeighted})
	dns := func(addrs ...string) []Spec {
		var out []Spec
		for _, a := range addrs {
			out = append(out, Spec{ID: "api.internal@" + a, Pool: "api", Addr: a})
		}
		return out
	}
	if err := r.Replace("api.internal:80", SourceDNS, dns("10.0.0.1:80", "10.0.0.2:80")); err != nil {
		t.Fatal(err)
	}
	first := r.Routes().Load().Pool("api").Backends()
	if len(first) != 2 {
		t.Fatalf("pool api: %d backends", len(first))
	}
	tbl := r.Routes().Load()
	if err := r.Replace("api.internal:80", SourceDNS, dns("10.0.0.2:80", "10.0.0.1:80")); err != nil {
		t.Fatal(err)
	}
	if r.Routes().Load() != tbl {
		t.Fatal("the same answer in another order republished the table")
	}
	if err := r.Replace("api.internal:80", SourceDNS, dns("10.0.0.2:80", "10.0.0.3:80")); err != nil {
		t.Fatal(err)
	}
	now := r.Routes().Load().Pool("api").Backends()
	if len(now) != 2 || now[0] != first[1] || now[1].Addr != "10.0.0.3:80" || !first[0].Draining() {
		t.Fatalf("after the answer changed: %v", now)
	}
	st, _ := r.Backend("api.internal@10.0.0.1:80")
	if st.State != StateDraining || st.Reason != "gone from DNS" {
		t.Fatalf("gone address: %+v", st)
	}
	// Another owner's clash is reported, the rest applied.
	err := r.Replace("other:80", SourceDNS, []Spec{
		{ID: "x", Pool: "api", Addr: "10.0.0.2:80"}, {ID: "y", Pool: "api", Addr: "10.0.0.9:80"},
	})
	if !errors.Is(err, ErrConflict) || !slices.Contains(ids(r, "api"), "y") {
		t.Fatalf("clash: %v, pool api %v", err, ids(r, "api"))
	}
	// Weights from SRV records follow.
	specs := dns("10.0.0.2:80", "10.0.0.3:80")
	specs[1].Weight = 5
	if err := r.Replace("api.internal:80", SourceDNS, specs); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Backend("api.internal@10.0.0.3:80"); st.Weight != 5 {
		t.Fatalf("weight %d, want 5", st.Weight)
	}
	// An empty answer drains everything of that owner only.
	if err := r.Replace("api.internal:80", SourceDNS, nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(r, "api"); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("after an empty answer: %v", got)
	}
}

func TestRegistryStatusStates(t *testing.T) {
	r, c := newTestRegistry(t, Config{})
	mustRegister(t, r, Spec{ID: "a", Addr: "10.0.0.1:80"}, 0, true)
	b := r.Routes().Load().Backends()[0]
	b.Eject(c.now().UnixNano())
	st, _ := r.Backend("a")
	if st.State != StateEjected || st.Until == nil || !st.Until.After(c.now()) || st.Reason == "" {
		t.Fatalf("ejected: %+v", st)
	}
	b.SetHealthy(false)
	b.NoteError(errors.New("health probe: connection refused"), c.now().UnixNano())
	st, _ = r.Backend("a")
	if st.State != StateDown || st.LastError != "health probe: connection refused" || st.LastErrorAt == nil {
		t.Fatalf("down: %+v", st)
	}
	b.SetHealthy(true)
	c.add(time.Minute)
	b.Acquire()
	st, _ = r.Backend("a")
	if st.State != StateUp || st.Requests != 1 || st.InFlight != 1 {
		t.Fatalf("up: %+v", st)
	}
	b.Release()
	sum := r.Summary()
	if len(sum) != 1 || sum[0].Pool != "default" || !slices.Equal(sum[0].Backends, []string{"a=10.0.0.1:80(up)"}) {
		t.Fatalf("summary %+v", sum)
	}
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
