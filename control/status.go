package control

import (
	"fmt"
	"slices"
	"time"
)

// Backend states, in the order Status decides them.
const (
	StateDraining = "draining" // left: no new request; those in flight finish
	StateDown     = "down"     // failing its health checks
	StateEjected  = "ejected"  // in a passive back-off after failed requests
	StateUp       = "up"
)

// Status is a backend as the admin API shows it.
type Status struct {
	ID     string `json:"id"`
	Pool   string `json:"pool"`
	Addr   string `json:"addr"`
	Weight int    `json:"weight"`
	Source Source `json:"source"`

	// State is up, down, ejected or draining; Reason says why for the
	// last three; Until is when an ejection ends.
	State  string     `json:"state"`
	Reason string     `json:"reason,omitempty"`
	Until  *time.Time `json:"until,omitempty"`
	// Full is true at its max-conns-per-backend cap.
	Full bool `json:"full,omitempty"`

	InFlight int64  `json:"in_flight"` // requests in flight, every loop
	Requests uint64 `json:"requests"`  // requests sent to it since it was added
	Conns    int64  `json:"conns"`     // open connections to it, busy and idle

	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`

	Added time.Time `json:"added"`
	// TTL and Expires are set for a registration with a ttl; Seen is its
	// last registration or refresh.
	TTL     string     `json:"ttl,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	Seen    *time.Time `json:"seen,omitempty"`
}

// PoolStatus is a pool as the admin API shows it.
type PoolStatus struct {
	Name      string   `json:"name"`
	Balancer  string   `json:"balancer"`
	Backends  []string `json:"backends"`  // ids, in rotation order
	Available int      `json:"available"` // up and not full
	Routes    []string `json:"routes,omitempty"`
}

// Backends returns every backend: the active ones in the order they came,
// then the draining ones.
func (r *Registry) Backends() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	out := make([]Status, 0, len(r.order)+len(r.draining))
	for _, e := range r.order {
		out = append(out, r.status(e, now))
	}
	for _, e := range r.draining {
		out = append(out, r.status(e, now))
	}
	return out
}

// Backend returns the active backend id, or the draining one when none is
// active; ok is false when neither exists.
func (r *Registry) Backend(id string) (st Status, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if e := r.active[id]; e != nil {
		return r.status(e, now), true
	}
	for _, e := range slices.Backward(r.draining) {
		if e.b.ID == id {
			return r.status(e, now), true
		}
	}
	return Status{}, false
}

// Pools returns every pool of the current table with its routes.
func (r *Registry) Pools() []PoolStatus {
	t := r.routes.Load()
	now := time.Now().UnixNano()
	var out []PoolStatus
	for _, p := range t.Pools() {
		ps := PoolStatus{Name: p.Name(), Balancer: r.cfg.Policy, Backends: []string{}}
		for _, b := range p.Backends() {
			ps.Backends = append(ps.Backends, b.ID)
			if b.Available(now) && !b.Full() {
				ps.Available++
			}
		}
		for _, rt := range t.Routes() {
			if rt.Pool == p.Name() {
				ps.Routes = append(ps.Routes, rt.Host+rt.Prefix)
			}
		}
		out = append(out, ps)
	}
	return out
}

// status describes e at now. It reads the backend's atomics, not r's
// maps, but is called with r.mu held for e's own fields.
func (r *Registry) status(e *entry, now time.Time) Status {
	b := e.b
	st := Status{
		ID: b.ID, Pool: b.Pool, Addr: b.Addr, Weight: b.Weight(), Source: e.src,
		Full: b.Full(), InFlight: b.InUse(), Requests: b.Requests(), Conns: b.Conns(),
		Added: e.added,
	}
	nowNs := now.UnixNano()
	switch {
	case b.Draining():
		st.State, st.Reason = StateDraining, e.reason
	case !b.Healthy():
		st.State, st.Reason = StateDown, "failing its health checks"
	case b.Ejected(nowNs):
		st.State = StateEjected
		st.Reason = fmt.Sprintf("passive: connects or requests failed (back-off level %d)", b.Failures())
		st.Until = timePtr(time.Unix(0, b.EjectedUntil()))
	default:
		st.State = StateUp
	}
	if msg, at := b.LastError(); msg != "" {
		st.LastError, st.LastErrorAt = msg, timePtr(time.Unix(0, at))
	}
	if e.ttl > 0 {
		st.TTL = e.ttl.String()
		st.Expires = timePtr(e.expires)
	}
	if e.src == SourceAPI {
		st.Seen = timePtr(e.seen)
	}
	return st
}

func timePtr(t time.Time) *time.Time { return &t }

// PoolSummary is one pool of the backend set, for a log line.
type PoolSummary struct {
	Pool     string
	Backends []string // id=addr(state), in rotation order
}

// Summary returns the backend set pool by pool, for the log (SIGHUP).
func (r *Registry) Summary() []PoolSummary {
	states := make(map[string]string)
	for _, st := range r.Backends() {
		if st.State != StateDraining {
			states[st.ID] = st.State
		}
	}
	var out []PoolSummary
	for _, p := range r.routes.Load().Pools() {
		ps := PoolSummary{Pool: p.Name(), Backends: []string{}}
		for _, b := range p.Backends() {
			ps.Backends = append(ps.Backends, fmt.Sprintf("%s=%s(%s)", b.ID, b.Addr, states[b.ID]))
		}
		out = append(out, ps)
	}
	return out
}
