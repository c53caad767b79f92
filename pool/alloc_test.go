//go:build !race

package pool

import (
	"testing"
	"time"
)

// The hot path allocates nothing: per request the engine picks a backend,
// claims a slot, takes a pooled conn, reports the outcome and puts it back.

func TestAllocsRoundRobinPick(t *testing.T) {
	bs := newBackends(4)
	bs[1].SetHealthy(false) // exercise the skip path too
	var rr RoundRobin
	if n := testing.AllocsPerRun(1000, func() { rr.Pick(bs, 0) }); n != 0 {
		t.Fatalf("RoundRobin.Pick: %v allocs, want 0", n)
	}
}

func TestAllocsLeastConnPick(t *testing.T) {
	bs := newBackends(4)
	var lc LeastConn
	if n := testing.AllocsPerRun(1000, func() { lc.Pick(bs, 0) }); n != 0 {
		t.Fatalf("LeastConn.Pick: %v allocs, want 0", n)
	}
}

func TestAllocsConnPoolGetPut(t *testing.T) {
	bs := newBackends(4)
	p := NewConnPool[conn](8, time.Minute)
	for _, b := range bs {
		for i := range 4 {
			p.Put(b, conn(i), 0)
		}
	}
	var now int64
	if n := testing.AllocsPerRun(1000, func() {
		now++
		b := bs[now%4]
		c, ok := p.Get(b)
		if !ok {
			panic("empty")
		}
		p.Put(b, c, now)
	}); n != 0 {
		t.Fatalf("ConnPool Get/Put: %v allocs, want 0", n)
	}
}

func TestAllocsRequestCycle(t *testing.T) {
	bs := newBackends(3)
	var rr RoundRobin
	p := NewConnPool[conn](8, time.Minute)
	for _, b := range bs {
		p.Put(b, 1, 0)
	}
	var now int64
	if n := testing.AllocsPerRun(1000, func() {
		now++
		b := rr.Pick(bs, now)
		b.Acquire()
		c, _ := p.Get(b)
		b.ReportSuccess(now)
		b.Release()
		p.Put(b, c, now)
	}); n != 0 {
		t.Fatalf("request cycle: %v allocs, want 0", n)
	}
}

func TestAllocsExpired(t *testing.T) {
	bs := newBackends(4)
	p := NewConnPool[conn](8, time.Nanosecond)
	fill := func() {
		for _, b := range bs {
			for i := range 8 {
				p.Put(b, conn(i), 0)
			}
		}
	}
	fill()
	p.Expired(10, func(*Backend, conn) {}) // grows the scratch once
	if n := testing.AllocsPerRun(100, func() {
		fill()
		p.Expired(10, func(*Backend, conn) {})
	}); n != 0 {
		t.Fatalf("Expired: %v allocs, want 0", n)
	}
}

func TestAllocsWeightedPick(t *testing.T) {
	bs := weighted(1, 2, 3, 4)
	w := NewWeighted(bs)
	bs[3].SetHealthy(false) // exercise the redirect path too
	if n := testing.AllocsPerRun(1000, func() { w.Pick(bs, 0) }); n != 0 {
		t.Fatalf("Weighted.Pick: %v allocs, want 0", n)
	}
}

func TestAllocsP2CPick(t *testing.T) {
	bs := newBackends(4)
	bs[0].SetHealthy(false)
	bs[1].SetHealthy(false) // sometimes both drawn are down: the scan too
	if n := testing.AllocsPerRun(1000, func() { (P2C{}).Pick(bs, 0) }); n != 0 {
		t.Fatalf("P2C.Pick: %v allocs, want 0", n)
	}
}

// TestAllocsRoute: the engine's per-request routing (load the table, route
// by Host and path, pick in the pool) allocates nothing, with routes of
// every kind to walk through.
func TestAllocsRoute(t *testing.T) {
	bs := newBackends(4)
	tbl, err := NewTable([]*Pool{NewPool("api", bs[:2], nil), NewPool("", bs[2:], nil)},
		mustRoutes(t, "api.example.com=api", "*.example.com=api", "/static/=api", "x.org/a/=api"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRoutes(tbl)
	reqs := [][2][]byte{
		{[]byte("API.Example.com:8080"), []byte("/users")},
		{[]byte("b.example.com"), []byte("/")},
		{[]byte("other.org"), []byte("/static/a.css")},
		{[]byte("x.org"), []byte("/b")},
		{[]byte("other.org"), []byte("http://api.example.com/x")},
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		q := reqs[i%len(reqs)]
		i++
		if r.Load().Route(q[0], q[1]).Pick(0) == nil {
			panic("no backend")
		}
	}); n != 0 {
		t.Fatalf("Route+Pick: %v allocs, want 0", n)
	}
}
