package pool

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Set is the list of backends of one pool, shared by every event loop.
// Readers take an immutable snapshot with one atomic load and no lock;
// writers (the control plane) copy the list, change the copy and publish it.
// The zero Set is empty and ready to use.
type Set struct {
	mu      sync.Mutex // serialises writers; readers never take it
	list    atomic.Pointer[[]*Backend]
	version atomic.Uint64
	follows []func([]*Backend) // called with every published list, under mu
}

// Snapshot returns the backends at this instant, in the order they were
// added. The slice is shared by every caller and must not be modified; it
// stays valid (and unchanged) for as long as the caller holds it, even after
// later Adds and Removes. It is nil for an empty Set.
func (s *Set) Snapshot() []*Backend {
	if p := s.list.Load(); p != nil {
		return *p
	}
	return nil
}

// Len returns the number of backends in the Set.
func (s *Set) Len() int { return len(s.Snapshot()) }

// Version returns a counter that grows by one on every change to the Set,
// starting at 0. An event loop compares it on its ticker to notice removed
// backends (and Drop their idle connections) without comparing lists.
func (s *Set) Version() uint64 { return s.version.Load() }

// Add appends b to the Set. It returns ErrInvalidBackend for a nil Backend
// or one with an empty ID or Addr, and ErrDuplicateBackend when a backend
// with the same ID or Addr is already there.
func (s *Set) Add(b *Backend) error {
	if b == nil || b.ID == "" || b.Addr == "" {
		return ErrInvalidBackend
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.Snapshot()
	for _, o := range old {
		if o.ID == b.ID {
			return fmt.Errorf("%w: id %q", ErrDuplicateBackend, b.ID)
		}
		if o.Addr == b.Addr {
			return fmt.Errorf("%w: addr %q (id %q)", ErrDuplicateBackend, b.Addr, o.ID)
		}
	}
	next := append(slices.Clip(old), b) // Clip: never write into a published array
	s.publish(next)
	return nil
}

// Remove takes the backend with the given ID out of the Set and returns it,
// or returns nil, false if there is none. Requests already sent to it finish;
// idle connections to it stay in each loop's ConnPool until that loop Drops
// them.
func (s *Set) Remove(id string) (*Backend, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.Snapshot()
	i := slices.IndexFunc(old, func(b *Backend) bool { return b.ID == id })
	if i < 0 {
		return nil, false
	}
	s.publish(slices.Concat(old[:i], old[i+1:]))
	return old[i], true
}

// Get returns the backend with the given ID, or nil, false. It scans the
// snapshot: meant for the control plane, not for every request.
func (s *Set) Get(id string) (*Backend, bool) {
	for _, b := range s.Snapshot() {
		if b.ID == id {
			return b, true
		}
	}
	return nil, false
}

// publish must be called with s.mu held.
func (s *Set) publish(list []*Backend) {
	s.list.Store(&list)
	s.version.Add(1)
	for _, f := range s.follows {
		f(list)
	}
}

// follow calls f with the current list and then with every list the Set
// publishes, in order (FollowSet's hook). f must not call back into s.
func (s *Set) follow(f func([]*Backend)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follows = append(s.follows, f)
	f(s.Snapshot())
}

// Pools is the registry of named backend pools, one Set each. It is for the
// control plane and for wiring: resolve a pool's *Set once and keep it,
// rather than looking the name up per request. The zero Pools is empty and
// ready to use.
type Pools struct {
	mu   sync.Mutex
	sets map[string]*Set
}

// Set returns the Set of the named pool ("" is the default pool), creating
// an empty one if there is none yet, so engine wiring may precede the first
// backend.
func (p *Pools) Set(name string) *Set {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sets[name]
	if !ok {
		if p.sets == nil {
			p.sets = make(map[string]*Set)
		}
		s = new(Set)
		p.sets[name] = s
	}
	return s
}

// Lookup returns the Set of the named pool, or nil, false if no pool has
// that name.
func (p *Pools) Lookup(name string) (*Set, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sets[name]
	return s, ok
}

// Add adds b to the Set named by b.Pool, creating the pool if needed. Errors
// are those of Set.Add.
func (p *Pools) Add(b *Backend) error {
	if b == nil {
		return ErrInvalidBackend
	}
	return p.Set(b.Pool).Add(b)
}

// Remove takes the backend with the given ID out of the named pool. It
// returns ErrUnknownBackend when the pool or the backend does not exist.
func (p *Pools) Remove(pool, id string) (*Backend, error) {
	s, ok := p.Lookup(pool)
	if !ok {
		return nil, fmt.Errorf("%w: pool %q", ErrUnknownBackend, pool)
	}
	b, ok := s.Remove(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q in pool %q", ErrUnknownBackend, id, pool)
	}
	return b, nil
}

// Names returns the pool names, sorted.
func (p *Pools) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.sets))
	for n := range p.sets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
