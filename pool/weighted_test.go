package pool

import (
	"slices"
	"testing"
)

// weighted returns backends with the given weights, named s0, s1, ...
func weighted(ws ...int) []*Backend {
	bs := newBackends(len(ws))
	for i, w := range ws {
		bs[i].SetWeight(w)
	}
	return bs
}

// TestWeightedSmoothOrder checks nginx's own example: weights 5, 1, 1 give
// a a b a c a a (ngx_http_upstream_round_robin.c, commit 52327e0627f4).
func TestWeightedSmoothOrder(t *testing.T) {
	bs := weighted(5, 1, 1)
	w := NewWeighted(bs)
	var got []string
	for range 14 {
		got = append(got, w.Pick(bs, 0).ID)
	}
	want := []string{"s0", "s0", "s1", "s0", "s2", "s0", "s0"}
	want = append(want, want...)
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestWeightedExactShares: over whole cycles each backend gets exactly its
// weight's share, whatever the number of goroutines picking.
func TestWeightedExactShares(t *testing.T) {
	bs := weighted(1, 2, 3)
	const cycles = 4000
	counts := countPicks(NewWeighted(bs), bs, 8, 6*cycles)
	for i, want := range []int{cycles, 2 * cycles, 3 * cycles} {
		if counts[bs[i]] != want {
			t.Fatalf("%s: %d picks, want %d (all %v)", bs[i].ID, counts[bs[i]], want, byID(counts))
		}
	}
}

func TestWeightedGCDShortensCycle(t *testing.T) {
	w := NewWeighted(weighted(20, 40, 60))
	if got := len(w.sched.Load().order); got != 6 {
		t.Fatalf("cycle of weights 20,40,60: %d entries, want 6", got)
	}
}

// TestWeightedEjectedShareFollowsWeights: the share of an unusable backend
// goes to the others in proportion to their weights.
func TestWeightedEjectedShareFollowsWeights(t *testing.T) {
	bs := weighted(1, 2, 3)
	bs[2].Eject(0)
	w := NewWeighted(bs)
	const cycles = 3000
	counts := countPicks(w, bs, 4, 6*cycles)
	// 3 of every 6 picks land on s2 and are redirected 1:2 by the miss
	// counter, so s0 gets 1+1 and s1 2+2 per cycle.
	if counts[bs[0]] != 2*cycles || counts[bs[1]] != 4*cycles || counts[bs[2]] != 0 {
		t.Fatalf("counts %v, want s0=%d s1=%d s2=0", byID(counts), 2*cycles, 4*cycles)
	}
	for _, b := range bs {
		b.SetHealthy(false)
	}
	if b := w.Pick(bs, 1); b != nil {
		t.Fatalf("all down: picked %s", b.ID)
	}
}

// TestWeightedPoolChange: handed a new list (a backend added, a weight
// changed and republished), Weighted rebuilds its schedule at once.
func TestWeightedPoolChange(t *testing.T) {
	bs := weighted(1, 1)
	w := NewWeighted(bs)
	for range 10 {
		w.Pick(bs, 0)
	}
	extra := weighted(1, 1, 2)[2]
	extra.ID = "new"
	next := append(slices.Clip(bs), extra)
	counts := countPicks(w, next, 1, 4*1000)
	if counts[bs[0]] != 1000 || counts[bs[1]] != 1000 || counts[extra] != 2000 {
		t.Fatalf("after adding a weight-2 backend: %v", byID(counts))
	}
	bs[0].SetWeight(3)
	again := slices.Clone(next) // a republished list: same backends, new array
	counts = countPicks(w, again, 1, 6*1000)
	if counts[bs[0]] != 3000 || counts[bs[1]] != 1000 || counts[extra] != 2000 {
		t.Fatalf("after reweighting s0 to 3: %v", byID(counts))
	}
	if got := w.Pick(nil, 0); got != nil {
		t.Fatal("empty list: picked a backend")
	}
}

// TestWeightedScheduleBounded: a huge pool with uneven weights stays
// within maxScheduleWork and keeps the heavier backends heavier.
func TestWeightedScheduleBounded(t *testing.T) {
	ws := make([]int, 2000)
	for i := range ws {
		ws[i] = 1 + i%MaxWeight
	}
	r := reduceWeights(ws)
	total := 0
	for _, w := range r {
		if w < 1 {
			t.Fatalf("weight scaled to %d", w)
		}
		total += w
	}
	if len(r)*total > 2*maxScheduleWork {
		t.Fatalf("schedule work %d, want about %d at most", len(r)*total, maxScheduleWork)
	}
	if r[255] <= r[0] {
		t.Fatalf("scaled weights lost their order: w(1)=%d w(256)=%d", r[0], r[255])
	}
}

func TestWeightClamp(t *testing.T) {
	b := &Backend{ID: "s", Addr: "x:1"}
	if b.Weight() != DefaultWeight {
		t.Fatalf("zero weight %d, want %d", b.Weight(), DefaultWeight)
	}
	b.SetWeight(0)
	if b.Weight() != 1 {
		t.Fatalf("SetWeight(0): %d", b.Weight())
	}
	b.SetWeight(10000)
	if b.Weight() != MaxWeight {
		t.Fatalf("SetWeight(10000): %d", b.Weight())
	}
}
