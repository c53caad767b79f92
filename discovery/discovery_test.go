package discovery

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/internal/dnstest"
	"github.com/pilb-proxy/pilb/pool"
)

func TestParseTarget(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Target
	}{
		{"api.internal:5000", Target{Name: "api.internal", Port: 5000}},
		{"api=api.internal:5000", Target{Pool: "api", Name: "api.internal", Port: 5000}},
		{"_http._tcp.api.service.consul", Target{Name: "_http._tcp.api.service.consul"}},
		{"web=_web._tcp.example.com.", Target{Pool: "web", Name: "_web._tcp.example.com."}},
		{"[host-1.example.com]:80", Target{Name: "host-1.example.com", Port: 80}},
	} {
		got, err := ParseTarget(tt.in, control.SourceDNS)
		tt.want.Source = control.SourceDNS
		if err != nil || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"api.internal", "api.internal:0", "api.internal:x", ":80", "bad pool=a:1", "=a:1",
		"_http._tcp.x:80", "10.0.0.1:80", "256.1.1.1:80", "a..b:80", "a b:80", strings.Repeat("a", 64) + ".com:80",
	} {
		if _, err := ParseTarget(bad, control.SourceDNS); !errors.Is(err, ErrBadTarget) {
			t.Errorf("ParseTarget(%q): %v, want ErrBadTarget", bad, err)
		}
	}
	if s := (Target{Pool: "api", Name: "a.b", Port: 80}).String(); s != "api=a.b:80" {
		t.Errorf("String %q", s)
	}
}

func lookup(t *testing.T, r *Resolver, target string) ([]string, error) {
	t.Helper()
	tg, err := ParseTarget(target, control.SourceDNS)
	if err != nil {
		t.Fatal(err)
	}
	eps, err := r.Lookup(context.Background(), tg)
	var out []string
	for _, e := range eps {
		s := e.Addr.String()
		if e.Weight != 1 {
			s += "/" + string(rune('0'+e.Weight%10))
		}
		out = append(out, s)
	}
	return out, err
}

func TestResolverLookup(t *testing.T) {
	f := dnstest.Start(t)
	r := &Resolver{Server: f.Addr}
	f.SetIPs("api.test", "10.0.0.2", "10.0.0.1", "2001:db8::1", "10.0.0.1")
	got, err := lookup(t, r, "api.test:5000")
	want := []string{"10.0.0.1:5000", "10.0.0.2:5000", "[2001:db8::1]:5000"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("A/AAAA: %v, %v; want %v", got, err, want)
	}

	// SRV: the lowest priority only; weight 0 is 1; "." is skipped.
	f.SetIPs("a.nodes.test", "10.0.1.1")
	f.SetIPs("b.nodes.test", "10.0.1.2")
	f.SetIPs("c.nodes.test", "10.0.1.3")
	f.SetSRV("_http._tcp.svc.test",
		dnstest.SRV(10, 5, 31001, "a.nodes.test"), dnstest.SRV(10, 0, 31002, "b.nodes.test"),
		dnstest.SRV(20, 9, 31003, "c.nodes.test"), dnstest.SRV(10, 3, 0, "."))
	got, err = lookup(t, r, "_http._tcp.svc.test")
	want = []string{"10.0.1.1:31001/5", "10.0.1.2:31002"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("SRV: %v, %v; want %v", got, err, want)
	}

	if _, err := lookup(t, r, "nope.test:80"); !NotFound(err) {
		t.Fatalf("NXDOMAIN: %v, want NotFound", err)
	}
	f.SetIPs("v6only.test", "2001:db8::2")
	f.SetIPs("v6only.test", "0.0.0.0") // only an unusable address
	if _, err := lookup(t, r, "v6only.test:80"); !NotFound(err) {
		t.Fatalf("no usable address: %v, want NotFound", err)
	}
	f.ServFail.Store(true)
	if _, err := lookup(t, r, "api.test:5000"); err == nil || NotFound(err) {
		t.Fatalf("SERVFAIL: %v, want a failure that is not NotFound", err)
	}
}

// memRegistry records Replace calls and applies them to a real registry.
type memRegistry struct {
	*control.Registry
	mu    sync.Mutex
	calls int
}

func (m *memRegistry) Replace(owner string, src control.Source, specs []control.Spec) error {
	m.mu.Lock()
	m.calls++
	m.mu.Unlock()
	return m.Registry.Replace(owner, src, specs)
}

func poolAddrs(r *control.Registry, name string) []string {
	p := r.Routes().Load().Pool(name)
	if p == nil {
		return nil
	}
	var out []string
	for _, b := range p.Backends() {
		out = append(out, b.Addr)
	}
	slices.Sort(out)
	return out
}

// TestWatcherFollowsAnswers: answers that change are applied, a failing
// server keeps the last answer, a name that disappears is held, then
// drained; a Required name that never resolves is an error.
func TestWatcherFollowsAnswers(t *testing.T) {
	f := dnstest.Start(t)
	reg, err := control.New(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mem := &memRegistry{Registry: reg}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	api, _ := ParseTarget("api=api.test:80", control.SourceDNS)
	w := &Watcher{
		Targets: []Target{api}, Resolver: &Resolver{Server: f.Addr}, Registry: mem,
		HoldEmpty: time.Minute, Now: func() time.Time { return now },
	}
	ctx := context.Background()
	f.SetIPs("api.test", "10.0.0.1", "10.0.0.2")
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := poolAddrs(reg, "api"); !slices.Equal(got, []string{"10.0.0.1:80", "10.0.0.2:80"}) {
		t.Fatalf("pool api %v", got)
	}
	first := reg.Routes().Load().Pool("api").Backends()

	f.SetIPs("api.test", "10.0.0.2", "10.0.0.3")
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := poolAddrs(reg, "api"); !slices.Equal(got, []string{"10.0.0.2:80", "10.0.0.3:80"}) {
		t.Fatalf("after the change: %v", got)
	}
	if !first[0].Draining() || first[1].Draining() {
		t.Fatal("the gone address must drain, the kept one not")
	}
	if st, _ := reg.Backend("api:api.test@10.0.0.1:80"); st.Reason != "gone from DNS" {
		t.Fatalf("gone: %+v", st)
	}

	f.ServFail.Store(true)
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := poolAddrs(reg, "api"); len(got) != 2 {
		t.Fatalf("SERVFAIL emptied the pool: %v", got)
	}
	f.ServFail.Store(false)

	f.SetIPs("api.test")
	_ = w.Refresh(ctx)
	now = now.Add(30 * time.Second)
	_ = w.Refresh(ctx)
	if got := poolAddrs(reg, "api"); len(got) != 2 {
		t.Fatalf("NXDOMAIN within the hold emptied the pool: %v", got)
	}
	now = now.Add(31 * time.Second)
	_ = w.Refresh(ctx)
	if got := poolAddrs(reg, "api"); len(got) != 0 {
		t.Fatalf("NXDOMAIN past the hold: %v, want none", got)
	}

	// It comes back.
	f.SetIPs("api.test", "10.0.0.4")
	_ = w.Refresh(ctx)
	if got := poolAddrs(reg, "api"); !slices.Equal(got, []string{"10.0.0.4:80"}) {
		t.Fatalf("name back: %v", got)
	}

	// A required name that never resolved is an error; one that did is not.
	req, _ := ParseTarget("missing.test:80", control.SourceFlag)
	req.Required = true
	w2 := &Watcher{Targets: []Target{req, api}, Resolver: w.Resolver, Registry: mem}
	if err := w2.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "missing.test") {
		t.Fatalf("required name missing: %v", err)
	}
	f.SetIPs("missing.test", "10.0.0.9")
	if err := w2.Refresh(ctx); err != nil {
		t.Fatalf("required name present: %v", err)
	}
	f.SetIPs("missing.test")
	if err := w2.Refresh(ctx); err != nil {
		t.Fatalf("required name gone after resolving once: %v", err)
	}
}

// TestWatcherRun: Run resolves at its interval, so a change reaches the
// registry without a Refresh.
func TestWatcherRun(t *testing.T) {
	f := dnstest.Start(t)
	reg, _ := control.New(control.Config{})
	tg, _ := ParseTarget("svc.test:80", control.SourceDNS)
	w := &Watcher{Targets: []Target{tg}, Resolver: &Resolver{Server: f.Addr}, Registry: reg, Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	f.SetIPs("svc.test", "10.1.0.1")
	if !settle(5*time.Second, func() bool { return slices.Equal(poolAddrs(reg, pool.DefaultPool), []string{"10.1.0.1:80"}) }) {
		t.Fatalf("Run did not pick up the answer: %v", poolAddrs(reg, pool.DefaultPool))
	}
	cancel()
	<-done
}

// settle polls cond every 10 ms for up to d.
func settle(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestWatcherLongName: a name as long as DNS allows, with an IPv6 address,
// still makes a backend: its id, name@address, is longer than an id the
// API's registrants need, and must not be refused for that.
func TestWatcherLongName(t *testing.T) {
	f := dnstest.Start(t)
	reg, err := control.New(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	label := strings.Repeat("a", 63)
	name := label + "." + label + "." + label + "." + strings.Repeat("b", 55) + ".test" // 253 characters, DNS's most
	poolName := strings.Repeat("p", 64)                                                 // the longest pool name
	tg, err := ParseTarget(poolName+"="+name+":65535", control.SourceDNS)
	if err != nil {
		t.Fatal(err)
	}
	f.SetIPs(name, "10.0.0.1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
	w := &Watcher{Targets: []Target{tg}, Resolver: &Resolver{Server: f.Addr}, Registry: reg}
	if err := w.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1:65535", "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"}
	if got := poolAddrs(reg, poolName); !slices.Equal(got, want) {
		t.Fatalf("pool %s %v, want %v", poolName, got, want)
	}
	if _, ok := reg.Backend(poolName + ":" + name + "@[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"); !ok {
		t.Fatal("the IPv6 backend is not listed under its id")
	}
}

// TestWatcherOneNameTwoPools: one name in two pools makes backends in
// both (their ids differ by the pool), not an id clash that leaves the
// second pool empty.
func TestWatcherOneNameTwoPools(t *testing.T) {
	f := dnstest.Start(t)
	reg, err := control.New(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var targets []Target
	for _, s := range []string{"svc.test:80", "api=svc.test:80", "web=svc.test:80"} {
		tg, err := ParseTarget(s, control.SourceDNS)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	f.SetIPs("svc.test", "10.0.0.1", "10.0.0.2")
	w := &Watcher{Targets: targets, Resolver: &Resolver{Server: f.Addr}, Registry: reg}
	if err := w.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1:80", "10.0.0.2:80"}
	for _, p := range []string{pool.DefaultPool, "api", "web"} {
		if got := poolAddrs(reg, p); !slices.Equal(got, want) {
			t.Errorf("pool %s %v, want %v", p, got, want)
		}
	}
	for _, id := range []string{"svc.test@10.0.0.1:80", "api:svc.test@10.0.0.1:80", "web:svc.test@10.0.0.2:80"} {
		if _, ok := reg.Backend(id); !ok {
			t.Errorf("no backend %s", id)
		}
	}
}
