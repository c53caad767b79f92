package engine

import (
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// TestIdleConnsOfRemovedOrDrainingBackendsClosed: the idle pooled
// connections of a backend that leaves the set, or starts draining, are
// closed by the next tick instead of lingering for BackendIdleTimeout.
func TestIdleConnsOfRemovedOrDrainingBackendsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		retire func(set *pool.Set, b *pool.Backend)
	}{
		{"removed", func(set *pool.Set, b *pool.Backend) { set.Remove(b.ID) }},
		{"draining", func(_ *pool.Set, b *pool.Backend) { b.SetDraining(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			old, keep := startScripted(t, serveOK), startScripted(t, serveOK)
			set := &pool.Set{}
			bOld := &pool.Backend{ID: "old", Addr: old.Addr()}
			for _, b := range []*pool.Backend{bOld, {ID: "keep", Addr: keep.Addr()}} {
				if err := set.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			cfg := e2eConfig()
			cfg.Loops = 1
			cfg.ConnsPerBackend = 2
			cfg.BackendIdleTimeout = time.Minute
			cfg.Backends = set
			startProxy(t, cfg)
			if !eventually(5*time.Second, func() bool { return old.conns.Load() >= 2 }) {
				t.Fatalf("pre-dial: %d connections to the backend", old.conns.Load())
			}
			tc.retire(set, bOld)
			if !eventually(5*time.Second, func() bool { return old.closed.Load() == old.conns.Load() }) {
				t.Fatalf("%d of %d idle connections closed", old.closed.Load(), old.conns.Load())
			}
			if keep.closed.Load() != 0 {
				t.Fatalf("%d idle connections of the other backend closed", keep.closed.Load())
			}
		})
	}
}
