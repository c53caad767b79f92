package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// Source says where a backend came from. Only the API changes or removes
// backends it registered itself; the others follow their source.
type Source string

const (
	SourceFlag Source = "flag" // -backends (addresses, and hostnames resolved at intervals)
	SourceDemo Source = "demo" // -demo
	SourceDNS  Source = "dns"  // -backends-dns
	SourceAPI  Source = "api"  // POST /backends
)

const (
	// DefaultMaxBackends bounds the backends the registry holds, active
	// and draining, so that a runaway registrant cannot grow the routing
	// table (rebuilt on every change) and the health rounds without limit.
	DefaultMaxBackends = 4096

	// sweepInterval is how often Run expires registrations whose ttl
	// passed and forgets drained backends: a ttl is honoured to within it.
	sweepInterval = 250 * time.Millisecond

	// MinTTL and MaxTTL bound a registration's ttl. Below a second the
	// refreshes (a third of it) would be a load of their own; past a day
	// a forgotten instance lingers too long.
	MinTTL = time.Second
	MaxTTL = 24 * time.Hour

	// maxIDLen bounds an id: it appears in logs, URLs and JSON. It fits
	// the ids DNS discovery makes, pool:name@address: a pool name of up
	// to 64 characters, ':', a name of up to 254 characters (RFC 1035
	// §2.3.4, and the trailing dot), '@', and the longest address,
	// "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535".
	maxIDLen = 64 + 1 + 254 + 1 + len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")
)

// Spec is a backend as a source wants it.
type Spec struct {
	// ID names the backend; unique among the registry's active backends.
	ID string
	// Pool is the pool's name; "" is pool.DefaultPool.
	Pool string
	// Addr is the dial address, an IP address and a port.
	Addr string
	// Weight is 1 to pool.MaxWeight; 0 means pool.DefaultWeight.
	Weight int
}

// Config configures a Registry.
type Config struct {
	// Policy is the balancing policy of every pool (pool.Policies); ""
	// means pool.PolicyRoundRobin.
	Policy string
	// Routes map hosts and path prefixes to pools (pool.Route).
	Routes []pool.Route
	// MaxConnsPerBackend is every backend's pool.Backend.MaxConns.
	MaxConnsPerBackend int
	// MaxBackends bounds the backends held; 0 means DefaultMaxBackends.
	MaxBackends int
	// Logger receives a record per change at Info; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests step it.
	Now func() time.Time
}

// Registry holds every backend and publishes the routing table. Its
// methods are safe for concurrent use.
type Registry struct {
	cfg    Config
	log    *slog.Logger
	routes *pool.Routes

	mu       sync.Mutex
	active   map[string]*entry // by id
	order    []*entry          // active, in the order they came: pools list them so
	draining []*entry          // left, with requests or connections still open
	pools    map[string]*pool.Pool
	dirty    map[string]bool // pools whose members changed since the last publish
}

// entry is one backend and what the registry knows of it.
type entry struct {
	b     *pool.Backend
	src   Source
	owner string // the flag, -demo or DNS name that wants it; "" for the API

	ttl     time.Duration // 0: no expiry
	expires time.Time
	added   time.Time
	seen    time.Time // last registration or refresh

	reason string    // why it drains
	left   time.Time // when it started draining
}

// New returns a Registry with no backend, which has already published a
// table of empty pools: the default pool and every pool a route names.
func New(cfg Config) (*Registry, error) {
	if cfg.Policy == "" {
		cfg.Policy = pool.PolicyRoundRobin
	}
	if _, err := pool.NewBalancer(cfg.Policy, nil); err != nil {
		return nil, err
	}
	if cfg.MaxBackends <= 0 {
		cfg.MaxBackends = DefaultMaxBackends
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg:    cfg,
		log:    log.With("component", "control"),
		routes: new(pool.Routes),
		active: make(map[string]*entry),
		pools:  make(map[string]*pool.Pool),
		dirty:  make(map[string]bool),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.publish(); err != nil {
		return nil, err
	}
	return r, nil
}

// Routes returns where the registry publishes its tables: the engine's
// Config.Routes, and a health checker's Lister.
func (r *Registry) Routes() *pool.Routes { return r.routes }

// Register adds or refreshes a backend of the API (POST /backends). A new
// id is added (created is true). The same id with the same address and
// pool is a heartbeat: its ttl starts again and its weight is updated.
// The same id with another address or pool moves it: a new backend takes
// the id and the old one drains. It returns ErrInvalid for a malformed
// spec or ttl and ErrConflict for an id of another source, an address
// already in the pool under another id, or a full registry.
func (r *Registry) Register(s Spec, ttl time.Duration) (st Status, created bool, err error) {
	if err := checkSpec(&s); err != nil {
		return Status{}, false, err
	}
	if ttl != 0 && (ttl < MinTTL || ttl > MaxTTL) {
		return Status{}, false, fmt.Errorf("%w: ttl %v: want 0 (none) or %v to %v", ErrInvalid, ttl, MinTTL, MaxTTL)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	e := r.active[s.ID]
	if e != nil && e.src != SourceAPI {
		return Status{}, false, fmt.Errorf("%w: id %q is a %s backend, which the API does not change", ErrConflict, s.ID, e.src)
	}
	if e != nil && e.b.Addr == s.Addr && e.b.Pool == s.Pool {
		e.ttl, e.seen = ttl, now
		e.expires = expiry(now, ttl)
		if e.b.Weight() != s.Weight {
			e.b.SetWeight(s.Weight)
			r.dirty[s.Pool] = true // a new list, so Weighted rebuilds its cycle
			if err := r.publish(); err != nil {
				return Status{}, false, err
			}
			r.log.Info("backend reweighted", "id", s.ID, "pool", s.Pool, "weight", s.Weight)
		}
		return r.status(e, now), false, nil
	}
	if other := r.addrInPool(s.Pool, s.Addr); other != nil && other != e {
		return Status{}, false, fmt.Errorf("%w: %s is already backend %q of pool %q", ErrConflict, s.Addr, other.b.ID, s.Pool)
	}
	if e == nil && len(r.active)+len(r.draining) >= r.cfg.MaxBackends {
		return Status{}, false, fmt.Errorf("%w: the registry holds %d backends, its limit", ErrConflict, r.cfg.MaxBackends)
	}
	n := r.newEntry(s, SourceAPI, "", now)
	n.ttl, n.expires = ttl, expiry(now, ttl)
	if e != nil {
		r.drain(e, fmt.Sprintf("moved to %s in pool %s", s.Addr, s.Pool), now)
	}
	r.add(n)
	if err := r.publish(); err != nil {
		return Status{}, false, err
	}
	if e != nil {
		r.log.Info("backend moved", "id", s.ID, "from", e.b.Addr, "to", s.Addr, "pool", s.Pool)
	} else {
		r.log.Info("backend registered", "id", s.ID, "pool", s.Pool, "addr", s.Addr, "weight", s.Weight, "ttl", ttl)
	}
	return r.status(n, now), e == nil, nil
}

// Deregister drains the API backend id (DELETE /backends/{id}): no new
// request goes to it, requests in flight finish and its pooled connections
// close. It returns ErrNotFound when no active backend has that id and
// ErrConflict when it is not an API backend.
func (r *Registry) Deregister(id string) (Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.active[id]
	if e == nil {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if e.src != SourceAPI {
		return Status{}, fmt.Errorf("%w: id %q is a %s backend, which the API does not remove", ErrConflict, id, e.src)
	}
	now := r.cfg.Now()
	r.drain(e, "deregistered", now)
	if err := r.publish(); err != nil {
		return Status{}, err
	}
	r.log.Info("backend deregistered, draining", "id", id, "pool", e.b.Pool, "addr", e.b.Addr, "in_flight", e.b.InUse())
	return r.status(e, now), nil
}

// Replace makes the backends of owner, of source src, be exactly specs:
// new ones are added, missing ones drain, others stay as they are (same
// Backend, so their connections and counters stay too). Sources call it
// with their whole answer each time: -backends and -demo once, DNS
// discovery after every resolution. A spec whose id or address clashes
// with another owner's backend is skipped and reported in the error; the
// rest are applied.
func (r *Registry) Replace(owner string, src Source, specs []Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	var errs []error
	want := make(map[string]Spec, len(specs))
	for _, s := range specs {
		if err := checkSpec(&s); err != nil {
			errs = append(errs, err)
			continue
		}
		want[s.ID] = s
	}
	changed := false
	for _, e := range slices.Clone(r.order) {
		if e.owner != owner || e.src != src {
			continue
		}
		s, ok := want[e.b.ID]
		switch {
		case !ok || s.Addr != e.b.Addr || s.Pool != e.b.Pool:
			r.drain(e, goneReason(src), now)
			changed = true
			r.log.Info("backend gone, draining", "id", e.b.ID, "source", src, "from", owner, "addr", e.b.Addr)
		case s.Weight != e.b.Weight():
			e.b.SetWeight(s.Weight)
			r.dirty[e.b.Pool] = true
			changed = true
			fallthrough
		default:
			delete(want, e.b.ID) // kept
		}
	}
	for _, s := range specs { // in the order given, for a stable rotation
		s, ok := want[s.ID]
		if !ok {
			continue
		}
		delete(want, s.ID)
		if other := r.active[s.ID]; other != nil {
			errs = append(errs, fmt.Errorf("%w: id %q is taken by a %s backend", ErrConflict, s.ID, other.src))
			continue
		}
		if other := r.addrInPool(s.Pool, s.Addr); other != nil {
			errs = append(errs, fmt.Errorf("%w: %s is already backend %q of pool %q", ErrConflict, s.Addr, other.b.ID, s.Pool))
			continue
		}
		if len(r.active)+len(r.draining) >= r.cfg.MaxBackends {
			errs = append(errs, fmt.Errorf("%w: the registry holds %d backends, its limit", ErrConflict, r.cfg.MaxBackends))
			break
		}
		r.add(r.newEntry(s, src, owner, now))
		changed = true
		r.log.Info("backend added", "id", s.ID, "source", src, "from", owner, "pool", s.Pool, "addr", s.Addr)
	}
	if changed {
		if err := r.publish(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// goneReason says why a backend of src drains when its source drops it.
func goneReason(src Source) string {
	if src == SourceDNS || src == SourceFlag {
		return "gone from DNS"
	}
	return "removed by its source"
}

// Sweep drains the API backends whose ttl passed without a refresh and
// forgets the drained backends that have no request in flight and no
// connection left. Run calls it every sweepInterval.
func (r *Registry) Sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	changed := false
	for _, e := range slices.Clone(r.order) {
		if e.ttl > 0 && now.After(e.expires) {
			r.drain(e, fmt.Sprintf("expired: no refresh within its ttl of %v", e.ttl), now)
			changed = true
			r.log.Info("backend expired, draining", "id", e.b.ID, "pool", e.b.Pool, "addr", e.b.Addr, "ttl", e.ttl)
		}
	}
	r.draining = slices.DeleteFunc(r.draining, func(e *entry) bool {
		done := e.b.InUse() == 0 && e.b.Conns() == 0
		if done {
			r.log.Debug("backend drained", "id", e.b.ID, "addr", e.b.Addr, "after", now.Sub(e.left))
		}
		return done
	})
	if changed {
		if err := r.publish(); err != nil {
			r.log.Error("publish", "err", err)
		}
	}
}

// Run sweeps every sweepInterval until ctx is done.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sweep()
		}
	}
}

// newEntry makes the Backend of s.
func (r *Registry) newEntry(s Spec, src Source, owner string, now time.Time) *entry {
	b := &pool.Backend{ID: s.ID, Addr: s.Addr, Pool: s.Pool, MaxConns: r.cfg.MaxConnsPerBackend}
	b.SetWeight(s.Weight)
	return &entry{b: b, src: src, owner: owner, added: now, seen: now}
}

// add makes e active; the caller publishes.
func (r *Registry) add(e *entry) {
	r.active[e.b.ID] = e
	r.order = append(r.order, e)
	r.dirty[e.b.Pool] = true
}

// drain takes e out of the active backends: draining first, so that no
// loop picks it from the table it holds, then out of the next table (the
// caller publishes).
func (r *Registry) drain(e *entry, reason string, now time.Time) {
	e.b.SetDraining(true)
	e.reason, e.left = reason, now
	if r.active[e.b.ID] == e {
		delete(r.active, e.b.ID)
	}
	r.order = slices.DeleteFunc(r.order, func(x *entry) bool { return x == e })
	r.draining = append(r.draining, e)
	r.dirty[e.b.Pool] = true
}

// addrInPool returns the active backend of pool p at addr, or nil.
func (r *Registry) addrInPool(p, addr string) *entry {
	for _, e := range r.order {
		if e.b.Pool == p && e.b.Addr == addr {
			return e
		}
	}
	return nil
}

// publish builds and stores a new table: the pools whose members changed
// get a new list and a new balancer, the others are reused as they are.
// It must be called with r.mu held.
func (r *Registry) publish() error {
	members := map[string][]*pool.Backend{pool.DefaultPool: nil}
	for _, rt := range r.cfg.Routes {
		members[rt.Pool] = nil
	}
	for _, e := range r.order {
		members[e.b.Pool] = append(members[e.b.Pool], e.b)
	}
	for name := range r.pools {
		if _, ok := members[name]; !ok {
			delete(r.pools, name) // no backend left, no route to it
		}
	}
	pools := make([]*pool.Pool, 0, len(members))
	for name, list := range members {
		p := r.pools[name]
		if p == nil || r.dirty[name] {
			bal, err := pool.NewBalancer(r.cfg.Policy, list)
			if err != nil {
				return err
			}
			p = pool.NewPool(name, list, bal)
			r.pools[name] = p
		}
		pools = append(pools, p)
	}
	t, err := pool.NewTable(pools, r.cfg.Routes)
	if err != nil {
		return err
	}
	clear(r.dirty)
	r.routes.Store(t)
	return nil
}

// expiry returns when a registration made at now with ttl expires; the
// zero time for no ttl.
func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}
