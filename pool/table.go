package pool

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pool is one backend pool as a Table publishes it: an immutable list of
// backends and the balancer that picks among them. A Pool never changes;
// the control plane publishes a new one when its backends do.
type Pool struct {
	name     string
	backends []*Backend
	bal      Balancer
}

// NewPool returns a pool of backends (the slice is kept; never modify it
// afterwards) picked by bal. An empty name is DefaultPool; a nil bal is a
// new RoundRobin.
func NewPool(name string, backends []*Backend, bal Balancer) *Pool {
	if name == "" {
		name = DefaultPool
	}
	if bal == nil {
		bal = new(RoundRobin)
	}
	return &Pool{name: name, backends: slices.Clip(backends), bal: bal}
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Backends returns the pool's backends; the slice must not be modified.
func (p *Pool) Backends() []*Backend { return p.backends }

// Balancer returns the pool's balancer.
func (p *Pool) Balancer() Balancer { return p.bal }

// ReportFailure records a failure of b, one of the pool's backends, at now
// (Unix nanoseconds): a failed connect or a response timeout. It returns the
// back-off it started, or 0. b is ejected after EjectAfter consecutive
// failures (one while half-open), unless no other backend of the pool is
// available: the last one is never ejected by passive health, since
// failing requests on it beats refusing them all.
func (p *Pool) ReportFailure(b *Backend, now int64) time.Duration {
	if !b.countFailure(EjectAfter) || !othersAvailable(p.backends, b, now) {
		return 0
	}
	d, prev, level := b.eject(now)
	if d > 0 && !othersAvailable(p.backends, b, now) {
		// Another loop ejected the last other available backend between
		// the check above and this ejection (each saw the other still
		// available): take this one back. Every ejector checks again after
		// its own ejection, so the last of them to check always finds one
		// available, or stays available itself.
		b.cancelEjection(now, d, prev, level)
		return 0
	}
	return d
}

// othersAvailable reports whether a backend of list other than b is
// available at now. It scans: failures are rare.
func othersAvailable(list []*Backend, b *Backend, now int64) bool {
	for _, o := range list {
		if o != b && o.Available(now) {
			return true
		}
	}
	return false
}

// Pick returns a backend of the pool for a new request at now (Unix
// nanoseconds), or nil when none is Available and not Full.
func (p *Pool) Pick(now int64) *Backend {
	if len(p.backends) == 0 {
		return nil
	}
	return p.bal.Pick(p.backends, now)
}

// Table is an immutable snapshot of every pool and of the routes between
// them: what each event loop reads, with one atomic load (Routes.Load), to
// route and balance a request without a lock. The control plane builds a
// new Table for every change and publishes it.
type Table struct {
	def    *Pool
	pools  []*Pool // sorted by name
	all    []*Backend
	member map[*Backend]struct{}

	routed bool                   // some route exists: Route has work to do
	exact  map[string]*routeGroup // by lower-case host
	wild   []wildGroup            // longest suffix first
	any    routeGroup             // routes with no host
	routes []Route                // as given, for display
}

// routeGroup is the routes of one host: prefixes, longest first, and the
// pool of the host itself (nil when only prefixes of it are routed).
type routeGroup struct {
	prefixes []prefixRoute
	all      *Pool
}

type prefixRoute struct {
	prefix string
	pool   *Pool
}

type wildGroup struct {
	suffix string // ".example.com" for "*.example.com"
	group  *routeGroup
}

// NewTable returns a table of pools and routes. Pools named by routes but
// not given are created empty (requests routed there get 503, until the
// control plane adds backends), and so is DefaultPool. It returns an
// error wrapping ErrDuplicateRoute when two pools share a name or two
// routes the same host and prefix, and ErrBadRoute for a malformed route.
func NewTable(pools []*Pool, routes []Route) (*Table, error) {
	t := &Table{member: make(map[*Backend]struct{})}
	byName := make(map[string]*Pool, len(pools)+1)
	for _, p := range pools {
		if _, dup := byName[p.name]; dup {
			return nil, fmt.Errorf("%w: two pools named %q", ErrDuplicateRoute, p.name)
		}
		byName[p.name] = p
	}
	ensure := func(name string) *Pool {
		p := byName[name]
		if p == nil {
			p = NewPool(name, nil, nil)
			byName[name] = p
		}
		return p
	}
	t.def = ensure(DefaultPool)

	seen := make(map[[2]string]bool, len(routes))
	for _, r := range routes {
		r = r.normal()
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadRoute, r, err)
		}
		key := [2]string{r.Host, r.Prefix}
		if seen[key] {
			return nil, fmt.Errorf("%w: %s%s is routed twice", ErrDuplicateRoute, r.Host, r.Prefix)
		}
		seen[key] = true
		t.add(r, ensure(r.Pool))
		t.routes = append(t.routes, r)
	}
	t.routed = len(routes) > 0
	for _, g := range t.exact {
		g.sort()
	}
	for _, w := range t.wild {
		w.group.sort()
	}
	t.any.sort()
	slices.SortFunc(t.wild, func(a, b wildGroup) int { return cmp.Compare(len(b.suffix), len(a.suffix)) })

	for _, p := range byName {
		t.pools = append(t.pools, p)
	}
	slices.SortFunc(t.pools, func(a, b *Pool) int { return strings.Compare(a.name, b.name) })
	for _, p := range t.pools {
		for _, b := range p.backends {
			t.all = append(t.all, b)
			t.member[b] = struct{}{}
		}
	}
	return t, nil
}

// add files route r, whose pool is p.
func (t *Table) add(r Route, p *Pool) {
	var g *routeGroup
	switch {
	case r.Host == "":
		g = &t.any
	case strings.HasPrefix(r.Host, "*."):
		suffix := r.Host[1:]
		for _, w := range t.wild {
			if w.suffix == suffix {
				g = w.group
			}
		}
		if g == nil {
			g = new(routeGroup)
			t.wild = append(t.wild, wildGroup{suffix: suffix, group: g})
		}
	default:
		if t.exact == nil {
			t.exact = make(map[string]*routeGroup)
		}
		if g = t.exact[r.Host]; g == nil {
			g = new(routeGroup)
			t.exact[r.Host] = g
		}
	}
	if r.Prefix == "" {
		g.all = p
	} else {
		g.prefixes = append(g.prefixes, prefixRoute{prefix: r.Prefix, pool: p})
	}
}

func (g *routeGroup) sort() {
	slices.SortStableFunc(g.prefixes, func(a, b prefixRoute) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
}

// match returns the pool of the longest prefix of path, else the group's
// own pool, else nil.
func (g *routeGroup) match(path []byte) *Pool {
	for i := range g.prefixes {
		if prefixMatch(path, g.prefixes[i].prefix) {
			return g.prefixes[i].pool
		}
	}
	return g.all
}

// Route returns the pool for a request with this Host field value (nil
// when absent) and request-target; the default pool when no route matches.
// It allocates nothing and keeps neither slice.
func (t *Table) Route(host, target []byte) *Pool {
	if !t.routed {
		return t.def
	}
	host, path := requestHostPath(host, target)
	var buf [maxHostLen]byte
	if h, ok := normalHost(buf[:0], host); ok {
		if g := t.exact[string(h)]; g != nil {
			if p := g.match(path); p != nil {
				return p
			}
		}
		for i := range t.wild {
			w := &t.wild[i]
			if len(h) > len(w.suffix) && string(h[len(h)-len(w.suffix):]) == w.suffix {
				if p := w.group.match(path); p != nil {
					return p
				}
			}
		}
	}
	if p := t.any.match(path); p != nil {
		return p
	}
	return t.def
}

// Default returns the default pool.
func (t *Table) Default() *Pool { return t.def }

// Pools returns every pool, sorted by name; the slice must not be modified.
func (t *Table) Pools() []*Pool { return t.pools }

// Pool returns the pool of that name, or nil.
func (t *Table) Pool(name string) *Pool {
	if name == "" {
		name = DefaultPool
	}
	for _, p := range t.pools {
		if p.name == name {
			return p
		}
	}
	return nil
}

// Routes returns the routes the table was built with, host lower-cased.
func (t *Table) Routes() []Route { return t.routes }

// Backends returns the backends of every pool, pool by pool in name order;
// the slice must not be modified. Event loops pre-dial them and health
// checks probe them.
func (t *Table) Backends() []*Backend { return t.all }

// PoolOf returns the pool b belongs to, or nil. It scans the pools: for
// the rare events that concern a backend alone (a pre-dial that failed).
func (t *Table) PoolOf(b *Backend) *Pool {
	for _, p := range t.pools {
		if slices.Contains(p.backends, b) {
			return p
		}
	}
	return nil
}

// Contains reports whether b is a backend of one of the table's pools.
func (t *Table) Contains(b *Backend) bool {
	_, ok := t.member[b]
	return ok
}
