package pool

import "testing"

// TestP2CUniformWhenIdle: with no load every backend is drawn as often.
// The tolerance is 10 standard deviations of a binomial share, so the
// test fails by chance less than once in 10^20 runs.
func TestP2CUniformWhenIdle(t *testing.T) {
	bs := newBackends(3)
	const n = 30000
	counts := countPicks(P2C{}, bs, 4, n)
	for _, b := range bs {
		if c := counts[b]; c < n/3-820 || c > n/3+820 {
			t.Fatalf("%s: %d picks of %d, want about %d (all %v)", b.ID, c, n, n/3, byID(counts))
		}
	}
}

// TestP2CAvoidsTheLoaded: a backend busier than every other is never the
// lighter of the two drawn.
func TestP2CAvoidsTheLoaded(t *testing.T) {
	bs := newBackends(3)
	for range 5 {
		bs[0].Acquire()
	}
	counts := countPicks(P2C{}, bs, 2, 6000)
	if counts[bs[0]] != 0 || counts[bs[1]] == 0 || counts[bs[2]] == 0 {
		t.Fatalf("counts %v: want s0 never picked", byID(counts))
	}
}

// TestP2CWeights: two backends are always both drawn, and with equal
// load the heavier one wins; once it carries weight-times the load, they
// tie and the first drawn wins.
func TestP2CWeights(t *testing.T) {
	bs := weighted(1, 3)
	for range 100 {
		if got := (P2C{}).Pick(bs, 0); got != bs[1] {
			t.Fatalf("picked %s, want the weight-3 backend", got.ID)
		}
	}
	for range 3 {
		bs[1].Acquire() // (3+1)/3 > (0+1)/1
	}
	for range 100 {
		if got := (P2C{}).Pick(bs, 0); got != bs[0] {
			t.Fatalf("picked %s, want s0 once s1 carries more than 3x", got.ID)
		}
	}
}

// TestP2CFallsBackToScan: when both drawn are down, the scan still finds
// the one usable backend.
func TestP2CFallsBackToScan(t *testing.T) {
	bs := newBackends(5)
	for _, b := range bs[:4] {
		b.SetHealthy(false)
	}
	for range 200 {
		if got := (P2C{}).Pick(bs, 0); got != bs[4] {
			t.Fatalf("picked %v, want s4", got)
		}
	}
	bs[4].SetDraining(true)
	if got := (P2C{}).Pick(bs, 0); got != nil {
		t.Fatalf("all unusable: picked %s", got.ID)
	}
}

// TestLeastConnWeights: in-flight counts are compared per unit of weight.
func TestLeastConnWeights(t *testing.T) {
	bs := weighted(2, 1)
	var lc LeastConn
	bs[0].Acquire() // (1+1)/2 = 1 against (0+1)/1 = 1: a tie, rotation decides
	seen := map[*Backend]int{}
	for range 10 {
		seen[lc.Pick(bs, 0)]++
	}
	if seen[bs[0]] != 5 || seen[bs[1]] != 5 {
		t.Fatalf("tie: %v, want 5 each", byID(seen))
	}
	bs[1].Acquire() // (0+1+1)/1 = 2 > 1
	for range 10 {
		if got := lc.Pick(bs, 0); got != bs[0] {
			t.Fatalf("picked %s, want the weight-2 backend", got.ID)
		}
	}
}

func TestNewBalancer(t *testing.T) {
	bs := weighted(1, 2)
	for _, p := range Policies {
		bal, err := NewBalancer(p, bs)
		if err != nil || bal.Pick(bs, 0) == nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if _, err := NewBalancer("random", bs); err == nil {
		t.Fatal("unknown policy accepted")
	}
}
