package pool

import "sync/atomic"

// Routes holds the current Table. The control plane Stores a new one for
// every change; event loops Load it once per request. The zero Routes
// holds no Table: use NewRoutes or FollowSet.
type Routes struct {
	t atomic.Pointer[Table]
}

// NewRoutes returns Routes holding t.
func NewRoutes(t *Table) *Routes {
	r := new(Routes)
	r.t.Store(t)
	return r
}

// Load returns the current Table: one atomic load, no lock. It is nil only
// for a zero Routes that was never stored to.
func (r *Routes) Load() *Table { return r.t.Load() }

// Store publishes t; a nil t is ignored, so Load never goes back to nil.
func (r *Routes) Store(t *Table) {
	if t != nil {
		r.t.Store(t)
	}
}

// Snapshot returns the backends of every pool of the current Table, so a
// Checker can Run on Routes.
func (r *Routes) Snapshot() []*Backend {
	if t := r.t.Load(); t != nil {
		return t.Backends()
	}
	return nil
}

// FollowSet returns Routes whose Table has one pool, DefaultPool, holding
// the backends of set and balanced by bal (nil: a new RoundRobin), and
// publishes a new such Table after every change to set. The engine uses
// it for a Config that names a single Set rather than Routes.
func FollowSet(set *Set, bal Balancer) *Routes {
	if bal == nil {
		bal = new(RoundRobin)
	}
	r := new(Routes)
	set.follow(func(list []*Backend) {
		t, _ := NewTable([]*Pool{NewPool(DefaultPool, list, bal)}, nil) // one pool, no route: no error
		r.Store(t)
	})
	return r
}
