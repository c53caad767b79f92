package pool

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkRoundRobinPick(b *testing.B) {
	bs := newBackends(4)
	var rr RoundRobin
	b.ReportAllocs()
	for b.Loop() {
		rr.Pick(bs, 0)
	}
}

func BenchmarkRoundRobinPickOneDown(b *testing.B) {
	bs := newBackends(4)
	bs[1].SetHealthy(false)
	var rr RoundRobin
	b.ReportAllocs()
	for b.Loop() {
		rr.Pick(bs, 0)
	}
}

func BenchmarkRoundRobinPickParallel(b *testing.B) {
	bs := newBackends(4)
	var rr RoundRobin
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rr.Pick(bs, 0)
		}
	})
}

// mutexRoundRobin is the baseline: the obvious lock-protected rotation.
type mutexRoundRobin struct {
	mu   sync.Mutex
	next int
}

func (r *mutexRoundRobin) Pick(backends []*Backend, now int64) *Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range backends {
		b := backends[r.next%len(backends)]
		r.next++
		if usable(b, now) {
			return b
		}
	}
	return nil
}

func BenchmarkRoundRobinPickParallelMutex(b *testing.B) {
	bs := newBackends(4)
	var rr mutexRoundRobin
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rr.Pick(bs, 0)
		}
	})
}

func BenchmarkLeastConnPickParallel(b *testing.B) {
	bs := newBackends(4)
	var lc LeastConn
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			lc.Pick(bs, 0)
		}
	})
}

func BenchmarkConnPoolGetPut(b *testing.B) {
	bs := newBackends(4)
	p := NewConnPool[conn](8, time.Minute)
	for _, be := range bs {
		for i := range 4 {
			p.Put(be, conn(i), 0)
		}
	}
	b.ReportAllocs()
	var now int64
	for b.Loop() {
		now++
		be := bs[now&3]
		c, _ := p.Get(be)
		p.Put(be, c, now)
	}
}

// BenchmarkConnPoolGetPutSharedMutex is the baseline: one pool shared by
// every loop behind a mutex, keyed by address, as net/http's Transport
// keeps idle conns.
func BenchmarkConnPoolGetPutSharedMutex(b *testing.B) {
	bs := newBackends(4)
	var mu sync.Mutex
	idle := make(map[string][]conn)
	for _, be := range bs {
		for i := range 4 {
			idle[be.Addr] = append(idle[be.Addr], conn(i))
		}
	}
	b.ReportAllocs()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			be := bs[n.Add(1)&3]
			mu.Lock()
			l := idle[be.Addr]
			c := l[len(l)-1]
			idle[be.Addr] = l[:len(l)-1]
			mu.Unlock()
			mu.Lock()
			idle[be.Addr] = append(idle[be.Addr], c)
			mu.Unlock()
		}
	})
}

// BenchmarkConnPoolGetPutPerLoop is the same load as the shared baseline,
// one ConnPool per goroutine as the engine keeps one per event loop.
func BenchmarkConnPoolGetPutPerLoop(b *testing.B) {
	bs := newBackends(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := NewConnPool[conn](8, time.Minute)
		for _, be := range bs {
			for i := range 4 {
				p.Put(be, conn(i), 0)
			}
		}
		var now int64
		for pb.Next() {
			now++
			be := bs[now&3]
			c, _ := p.Get(be)
			p.Put(be, c, now)
		}
	})
}

func BenchmarkWeightedPickParallel(b *testing.B) {
	bs := weighted(1, 2, 3, 4)
	w := NewWeighted(bs)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Pick(bs, 0)
		}
	})
}

// mutexSmoothWeighted is Weighted's baseline: nginx's algorithm as nginx
// runs it, one step per pick over every backend, here under a mutex since
// every loop shares the pool.
type mutexSmoothWeighted struct {
	mu      sync.Mutex
	current []int
}

func (m *mutexSmoothWeighted) Pick(backends []*Backend, now int64) *Backend {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.current) != len(backends) {
		m.current = make([]int, len(backends))
	}
	total, best := 0, -1
	for i, be := range backends {
		if !usable(be, now) {
			continue
		}
		w := be.Weight()
		m.current[i] += w
		total += w
		if best < 0 || m.current[i] > m.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	m.current[best] -= total
	return backends[best]
}

func BenchmarkWeightedPickParallelMutex(b *testing.B) {
	bs := weighted(1, 2, 3, 4)
	var w mutexSmoothWeighted
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Pick(bs, 0)
		}
	})
}

func BenchmarkP2CPickParallel(b *testing.B) {
	bs := newBackends(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = P2C{}.Pick(bs, 0)
		}
	})
}

// BenchmarkP2CPickParallel64 shows P2C's cost does not grow with the pool,
// beside LeastConn's scan of the same 64 backends.
func BenchmarkP2CPickParallel64(b *testing.B) {
	bs := newBackends(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = P2C{}.Pick(bs, 0)
		}
	})
}

func BenchmarkLeastConnPickParallel64(b *testing.B) {
	bs := newBackends(64)
	var lc LeastConn
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			lc.Pick(bs, 0)
		}
	})
}

// routeBenchTable has the routes of a typical multi-pool set-up; requests
// alternate between a host route, a prefix route and the default.
func routeBenchTable(b *testing.B) (*Routes, [][2][]byte) {
	bs := newBackends(6)
	var routes []Route
	for _, s := range []string{"api.example.com=api", "*.cdn.example.com=static", "/static/=static", "/ws/=api"} {
		r, err := ParseRoute(s)
		if err != nil {
			b.Fatal(err)
		}
		routes = append(routes, r)
	}
	tbl, err := NewTable([]*Pool{NewPool("api", bs[:2], nil), NewPool("static", bs[2:4], nil), NewPool("", bs[4:], nil)}, routes)
	if err != nil {
		b.Fatal(err)
	}
	return NewRoutes(tbl), [][2][]byte{
		{[]byte("API.example.com:443"), []byte("/v1/users?id=3")},
		{[]byte("www.example.com"), []byte("/static/app.js")},
		{[]byte("www.example.com"), []byte("/index.html")},
	}
}

// BenchmarkRoute is the engine's per-request step: load the table, route,
// pick.
func BenchmarkRoute(b *testing.B) {
	r, reqs := routeBenchTable(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := reqs[i%3]
		i++
		r.Load().Route(q[0], q[1]).Pick(0)
	}
}

// BenchmarkRouteNaive is the baseline: the same routing written the
// obvious way with strings (strings.Cut, strings.ToLower, a map and
// strings.HasPrefix), as a net/http handler would.
func BenchmarkRouteNaive(b *testing.B) {
	r, reqs := routeBenchTable(b)
	tbl := r.Load()
	api, static, def := tbl.Pool("api"), tbl.Pool("static"), tbl.Default()
	hosts := map[string]*Pool{"api.example.com": api}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := reqs[i%3]
		i++
		host, _, _ := strings.Cut(string(q[0]), ":")
		host = strings.ToLower(host)
		path := string(q[1])
		p := hosts[host]
		if p == nil {
			if strings.HasSuffix(host, ".cdn.example.com") || strings.HasPrefix(path, "/static/") {
				p = static
			} else if strings.HasPrefix(path, "/ws/") {
				p = api
			} else {
				p = def
			}
		}
		p.Pick(0)
	}
}
