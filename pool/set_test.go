package pool

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func newBackends(k int) []*Backend {
	bs := make([]*Backend, k)
	for i := range bs {
		bs[i] = &Backend{ID: fmt.Sprintf("s%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 10000+i)}
	}
	return bs
}

func TestSetAddRemoveGet(t *testing.T) {
	var s Set
	bs := newBackends(3)
	for _, b := range bs {
		if err := s.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(&Backend{ID: "s1", Addr: "x:1"}); !errors.Is(err, ErrDuplicateBackend) {
		t.Fatalf("duplicate ID: %v", err)
	}
	if err := s.Add(&Backend{ID: "new", Addr: bs[2].Addr}); !errors.Is(err, ErrDuplicateBackend) {
		t.Fatalf("duplicate Addr: %v", err)
	}
	for _, b := range []*Backend{nil, {ID: "x"}, {Addr: "x:1"}} {
		if err := s.Add(b); !errors.Is(err, ErrInvalidBackend) {
			t.Fatalf("Add(%+v): %v", b, err)
		}
	}
	if s.Len() != 3 || s.Version() != 3 {
		t.Fatalf("Len %d Version %d, want 3 3", s.Len(), s.Version())
	}

	before := s.Snapshot()
	b, ok := s.Remove("s1")
	if !ok || b != bs[1] {
		t.Fatalf("Remove: %v %v", b, ok)
	}
	if _, ok := s.Remove("s1"); ok {
		t.Fatal("second Remove succeeded")
	}
	if got := s.Snapshot(); len(got) != 2 || got[0] != bs[0] || got[1] != bs[2] {
		t.Fatalf("after Remove: %v", got)
	}
	if len(before) != 3 || before[1] != bs[1] {
		t.Fatal("Remove changed an earlier snapshot")
	}
	if g, ok := s.Get("s2"); !ok || g != bs[2] {
		t.Fatal("Get s2")
	}
	if _, ok := s.Get("s1"); ok {
		t.Fatal("Get removed backend")
	}
	// Add after Remove must not write into the earlier snapshot's array.
	mid := s.Snapshot()
	if err := s.Add(bs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Backend{ID: "s9", Addr: "x:9"}); err != nil {
		t.Fatal(err)
	}
	if len(mid) != 2 || mid[0] != bs[0] || mid[1] != bs[2] {
		t.Fatal("Add changed an earlier snapshot")
	}
	for _, b := range mid[len(mid):cap(mid)] {
		if b != nil {
			t.Fatal("Add wrote into an earlier snapshot's spare capacity")
		}
	}
}

func TestSetEmpty(t *testing.T) {
	var s Set
	if s.Snapshot() != nil || s.Len() != 0 {
		t.Fatal("zero Set not empty")
	}
	var rr RoundRobin
	if rr.Pick(s.Snapshot(), 0) != nil {
		t.Fatal("Pick from empty Set")
	}
}

// TestSetCopyOnWrite runs readers against writers; run with -race. Every
// snapshot a reader sees must be internally consistent: no nil entries, no
// duplicates, and unchanged while it is held.
func TestSetCopyOnWrite(t *testing.T) {
	var s Set
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				snap := s.Snapshot()
				seen := make(map[*Backend]bool, len(snap))
				ids := make([]string, len(snap))
				for i, b := range snap {
					if b == nil || seen[b] {
						t.Error("inconsistent snapshot")
						return
					}
					seen[b] = true
					ids[i] = b.ID
				}
				for i, b := range snap {
					if b.ID != ids[i] {
						t.Error("snapshot changed while held")
						return
					}
				}
			}
		})
	}
	for i := range 2000 {
		b := &Backend{ID: fmt.Sprint(i), Addr: fmt.Sprintf("h:%d", i)}
		if err := s.Add(b); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			s.Remove(fmt.Sprint(i / 2))
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestPools(t *testing.T) {
	var p Pools
	if err := p.Add(&Backend{ID: "a", Addr: "a:1"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(&Backend{ID: "a", Addr: "a:1", Pool: "api"}); err != nil {
		t.Fatal("same ID in another pool:", err)
	}
	if err := p.Add(nil); !errors.Is(err, ErrInvalidBackend) {
		t.Fatal(err)
	}
	if got := p.Names(); len(got) != 2 || got[0] != "" || got[1] != "api" {
		t.Fatalf("Names %q", got)
	}
	if s, ok := p.Lookup("api"); !ok || s.Len() != 1 || p.Set("api") != s {
		t.Fatal("Lookup api")
	}
	if _, ok := p.Lookup("nope"); ok {
		t.Fatal("Lookup created a pool")
	}
	if _, err := p.Remove("nope", "a"); !errors.Is(err, ErrUnknownBackend) {
		t.Fatal(err)
	}
	if _, err := p.Remove("api", "zz"); !errors.Is(err, ErrUnknownBackend) {
		t.Fatal(err)
	}
	if b, err := p.Remove("api", "a"); err != nil || b.Pool != "api" {
		t.Fatal(b, err)
	}
}
