package pool

import (
	"sync"
	"testing"
)

func TestRoundRobinOrder(t *testing.T) {
	bs := newBackends(3)
	var rr RoundRobin
	for i := range 30 {
		if got, want := rr.Pick(bs, 0), bs[i%3]; got != want {
			t.Fatalf("pick %d: %s, want %s", i, got.ID, want.ID)
		}
	}
}

// countPicks makes n picks split over g goroutines and counts them per
// backend; nil picks are counted under nil.
func countPicks(bal Balancer, bs []*Backend, g, n int) map[*Backend]int {
	counts := make(map[*Backend]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			local := make(map[*Backend]int)
			for range n / g {
				local[bal.Pick(bs, 0)]++
			}
			mu.Lock()
			for b, c := range local {
				counts[b] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return counts
}

// checkFair fails unless every backend in want got n/len(want) picks, give
// or take slack, and nothing else was picked.
func checkFair(t *testing.T, counts map[*Backend]int, want []*Backend, n, slack int) {
	t.Helper()
	share := n / len(want)
	total := 0
	for _, b := range want {
		c := counts[b]
		total += c
		if c < share-slack || c > share+slack {
			t.Errorf("%s: %d picks, want %d±%d (all: %v)", b.ID, c, share, slack, byID(counts))
		}
	}
	if total != n {
		t.Errorf("%d picks went elsewhere: %v", n-total, byID(counts))
	}
}

func byID(counts map[*Backend]int) map[string]int {
	m := make(map[string]int, len(counts))
	for b, c := range counts {
		if b == nil {
			m["<nil>"] = c
		} else {
			m[b.ID] = c
		}
	}
	return m
}

func TestRoundRobinFairConcurrent(t *testing.T) {
	const g, n = 8, 8 * 3 * 5000
	bs := newBackends(3)
	// Each pick takes a distinct counter value, so shares are exact.
	checkFair(t, countPicks(new(RoundRobin), bs, g, n), bs, n, 0)
}

// TestRoundRobinSpreadsDownShare checks that a down backend's share goes to
// all the others, not just to its successor.
func TestRoundRobinSpreadsDownShare(t *testing.T) {
	const g, n = 8, 8 * 4 * 3 * 1000
	bs := newBackends(4)
	bs[1].SetHealthy(false)
	up := []*Backend{bs[0], bs[2], bs[3]}
	// Counter values c with c%4 == 1 advance the offset by one each, so
	// the leftover is at most one pick per backend.
	checkFair(t, countPicks(new(RoundRobin), bs, g, n), up, n, 1)
}

func TestBalancersSkipUnusable(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(b *Backend)
	}{
		{"unhealthy", func(b *Backend) { b.SetHealthy(false) }},
		{"draining", func(b *Backend) { b.SetDraining(true) }},
		{"ejected", func(b *Backend) { b.Eject(0) }},
		{"full", func(b *Backend) { b.MaxConns = 1; b.Acquire() }},
	} {
		for _, bal := range []struct {
			name string
			Balancer
		}{{"RoundRobin", new(RoundRobin)}, {"Weighted", new(Weighted)}, {"LeastConn", new(LeastConn)}, {"P2C", P2C{}}} {
			t.Run(tc.name+"/"+bal.name, func(t *testing.T) {
				bs := newBackends(3)
				tc.make(bs[1])
				for i := range 300 {
					if got := bal.Pick(bs, 1); got == nil || got == bs[1] {
						t.Fatalf("pick %d: %v", i, got)
					}
				}
				for _, b := range bs {
					tc.make(b)
				}
				if got := bal.Pick(bs, 1); got != nil {
					t.Fatalf("all unusable: picked %s", got.ID)
				}
			})
		}
	}
}

func TestRoundRobinSingleDown(t *testing.T) {
	bs := newBackends(1)
	var rr RoundRobin
	if rr.Pick(bs, 0) != bs[0] {
		t.Fatal("single backend not picked")
	}
	bs[0].SetDraining(true)
	if rr.Pick(bs, 0) != nil {
		t.Fatal("draining single backend picked")
	}
}

func TestRoundRobinEjectionExpires(t *testing.T) {
	bs := newBackends(2)
	d := bs[0].Eject(sec)
	var rr RoundRobin
	for range 10 {
		if rr.Pick(bs, sec) != bs[1] {
			t.Fatal("ejected backend picked")
		}
	}
	seen := map[*Backend]bool{}
	for range 4 {
		seen[rr.Pick(bs, sec+int64(d))] = true
	}
	if !seen[bs[0]] {
		t.Fatal("backend not picked again after its back-off")
	}
}

func TestLeastConn(t *testing.T) {
	bs := newBackends(3)
	var lc LeastConn
	// Equal load rotates.
	seen := map[*Backend]bool{}
	for range 3 {
		seen[lc.Pick(bs, 0)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("equal load picked %d distinct backends of 3", len(seen))
	}
	bs[0].Acquire()
	bs[0].Acquire()
	bs[2].Acquire()
	for range 10 {
		if got := lc.Pick(bs, 0); got != bs[1] {
			t.Fatalf("picked %s, want s1 (least in flight)", got.ID)
		}
	}
	bs[1].SetHealthy(false)
	if got := lc.Pick(bs, 0); got != bs[2] {
		t.Fatalf("picked %s, want s2", got.ID)
	}
}

// TestBalancersPoolChange: handed a new list (a backend added, one
// removed), every balancer picks from the new list only, and each of its
// backends gets picks.
func TestBalancersPoolChange(t *testing.T) {
	for _, bal := range []struct {
		name string
		Balancer
	}{{"RoundRobin", new(RoundRobin)}, {"Weighted", new(Weighted)}, {"LeastConn", new(LeastConn)}, {"P2C", P2C{}}} {
		t.Run(bal.name, func(t *testing.T) {
			bs := newBackends(4)
			old := bs[:3]
			counts := countPicks(bal, old, 2, 3000)
			checkNone(t, counts, bs[3])
			next := []*Backend{bs[1], bs[2], bs[3]} // s0 removed, s3 added
			counts = countPicks(bal, next, 2, 3000)
			checkNone(t, counts, bs[0])
			for _, b := range next {
				if counts[b] < 500 {
					t.Fatalf("%s: %d of 3000 picks after the change (all %v)", b.ID, counts[b], byID(counts))
				}
			}
		})
	}
}

func checkNone(t *testing.T, counts map[*Backend]int, b *Backend) {
	t.Helper()
	if counts[b] != 0 || counts[nil] != 0 {
		t.Fatalf("%s (not in the list) or nil picked: %v", b.ID, byID(counts))
	}
}
