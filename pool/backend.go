package pool

import (
	"sync/atomic"
	"time"
)

// Passive health. Connect failures and response timeouts count against a
// backend; a failure after the request was sent (the backend closed the
// connection, answered garbage) is about the request and counts for
// nothing. After EjectAfter consecutive failures with no success between
// them, the backend is ejected for a back-off: BaseEjection << (level-1),
// capped at MaxEjection, where level counts the consecutive ejections since
// the last success. Once a back-off has passed the backend is half-open: one
// more failure ejects it again, for twice as long. Pool.ReportFailure never
// ejects the last available backend of its pool: with nowhere else to go,
// requests are better tried on it than refused.
const (
	// EjectAfter is the consecutive failures that eject a backend that was
	// in good standing. Three: one refused connect (an RST from a
	// restarting process, a full accept queue) does not take a backend out,
	// while a dead one is out after three requests, each retried elsewhere
	// (Envoy's consecutive failure detectors default to five).
	EjectAfter = 3

	// BaseEjection is the back-off of a first ejection. Half a second keeps
	// the cost of a transient outage small.
	BaseEjection = 500 * time.Millisecond

	// MaxEjection caps the doubling so that a backend which comes back is
	// tried again within half a minute even with no active checker running.
	// Six doublings from BaseEjection reach it.
	MaxEjection = 30 * time.Second
)

// Backend is one upstream server. ID, Addr, Pool and MaxConns are set before
// the Backend is added to a Set and never change afterwards; the health and
// counters are atomics, read and written by every event loop without locks.
// A Backend must not be copied after first use.
//
// The zero state is healthy, not draining, not ejected, with no connections,
// so a composite literal such as &Backend{ID: "s1", Addr: "10.0.0.1:80"} is
// ready to use.
type Backend struct {
	// ID names the backend in logs, metrics and the control plane; unique
	// within a Set, never empty.
	ID string

	// Addr is the dial address, host:port; unique within a Set, never empty.
	Addr string

	// Pool is the name of the backend pool it belongs to; "" is the default
	// pool. Pools.Add routes the Backend to the Set of that name.
	Pool string

	// MaxConns caps the requests in flight on this backend across all event
	// loops (HAProxy's server maxconn): Acquire fails and Full reports true
	// at the cap. Idle pooled connections do not count; the ConnPool's
	// maxIdle bounds those. Zero or negative means unlimited.
	MaxConns int

	unhealthy atomic.Bool // set by active probes; false (healthy) at start
	draining  atomic.Bool // set by the control plane

	// ejectedUntil is the Unix-nanosecond instant the passive back-off ends;
	// 0 means never ejected. failLevel is the number of consecutive
	// ejections since the last success and sets the next back-off's length.
	ejectedUntil atomic.Int64
	failLevel    atomic.Int32
	consecFails  atomic.Int32 // failures since the last success

	inUse atomic.Int64 // requests in flight: Acquire minus Release
	conns atomic.Int64 // open connections: ConnOpened minus ConnClosed

	// Control-plane state, read by balancers and the admin API (see
	// backend_info.go); none of it changes how the backend is ejected.
	weight   atomic.Int32               // 0 means DefaultWeight
	requests atomic.Uint64              // successful Acquires: requests sent to it
	lastErr  atomic.Pointer[noteworthy] // the last error noted, nil if none
}

// Healthy reports whether the active health checker last judged the backend
// up. A backend that was never probed is healthy.
func (b *Backend) Healthy() bool { return !b.unhealthy.Load() }

// SetHealthy records an active health verdict. The Checker calls it on
// rise/fall transitions only.
func (b *Backend) SetHealthy(healthy bool) { b.unhealthy.Store(!healthy) }

// Draining reports whether the control plane is draining the backend: it
// receives no new requests, while requests in flight finish.
func (b *Backend) Draining() bool { return b.draining.Load() }

// SetDraining starts (true) or stops (false) draining the backend.
func (b *Backend) SetDraining(draining bool) { b.draining.Store(draining) }

// Available reports whether the backend may receive a new request at now
// (Unix nanoseconds): it is healthy, not draining and not in a passive
// back-off. It does not consider Full.
func (b *Backend) Available(now int64) bool {
	return !b.unhealthy.Load() && !b.draining.Load() && now >= b.ejectedUntil.Load()
}

// Ejected reports whether the backend is in a passive back-off at now (Unix
// nanoseconds).
func (b *Backend) Ejected(now int64) bool { return now < b.ejectedUntil.Load() }

// Full reports whether the backend has MaxConns requests in flight. It is
// always false when MaxConns is zero or negative.
func (b *Backend) Full() bool {
	return b.MaxConns > 0 && b.inUse.Load() >= int64(b.MaxConns)
}

// countFailure records one failure and reports whether the backend has
// now failed often enough to be ejected: ejectAfter consecutive failures,
// or one while half-open (ejected before, no success since).
func (b *Backend) countFailure(ejectAfter int32) bool {
	n := b.consecFails.Add(1)
	return n >= ejectAfter || b.failLevel.Load() > 0
}

// Eject starts a passive back-off at now (Unix nanoseconds) and returns
// its length, or 0 when the backend was already ejected at now.
//
// Ejections inside an ongoing back-off are the same incident (requests sent
// before the ejection, failing on several loops at once) and neither extend
// nor lengthen it; counting them would jump a backend to MaxEjection after
// one outage.
func (b *Backend) Eject(now int64) time.Duration {
	d, _, _ := b.eject(now)
	return d
}

// eject is Eject; it also returns the back-off end it replaced and the
// level it set, which cancelEjection needs to undo it.
func (b *Backend) eject(now int64) (d time.Duration, prev int64, level int32) {
	for {
		until := b.ejectedUntil.Load()
		if now < until {
			return 0, 0, 0
		}
		level := b.failLevel.Load() + 1
		d := ejection(level)
		// The CAS makes exactly one of the loops failing at the same
		// moment raise the level.
		if b.ejectedUntil.CompareAndSwap(until, now+int64(d)) {
			b.failLevel.Store(level)
			return d, until, level
		}
	}
}

// cancelEjection undoes the ejection that eject(now) started for d,
// replacing prev and setting level, unless another ejection has replaced
// it since.
func (b *Backend) cancelEjection(now int64, d time.Duration, prev int64, level int32) {
	if b.ejectedUntil.CompareAndSwap(now+int64(d), prev) {
		b.failLevel.CompareAndSwap(level, level-1)
	}
}

// ReportSuccess records a completed exchange at now (Unix nanoseconds). It
// clears the consecutive failures and resets the back-off level, so that
// the next ejection is for only BaseEjection, unless the backend is still
// ejected at now: a request sent before the ejection proves little about
// the backend's present.
func (b *Backend) ReportSuccess(now int64) {
	// Load before Store: a success is the common case and a store would
	// bounce the cache line between loops on every response.
	if b.consecFails.Load() != 0 {
		b.consecFails.Store(0)
	}
	if b.failLevel.Load() != 0 && now >= b.ejectedUntil.Load() {
		b.failLevel.Store(0)
	}
}

// Failures returns the number of consecutive ejections since the last
// success; 0 for a backend in good standing.
func (b *Backend) Failures() int { return int(b.failLevel.Load()) }

// ConsecutiveFailures returns the failures counted since the last success.
func (b *Backend) ConsecutiveFailures() int { return int(b.consecFails.Load()) }

// ejection returns the back-off for the given level, 1 or more.
func ejection(level int32) time.Duration {
	d := BaseEjection
	for i := int32(1); i < level && d < MaxEjection; i++ {
		d *= 2
	}
	return min(d, MaxEjection)
}

// Acquire claims a request slot before a request is sent to the backend, on
// a pooled or a new connection. It returns false, claiming nothing, when the
// backend is Full. Every successful Acquire must be paired with one Release.
func (b *Backend) Acquire() bool {
	if b.MaxConns <= 0 {
		b.inUse.Add(1)
		b.requests.Add(1)
		return true
	}
	for {
		n := b.inUse.Load()
		if n >= int64(b.MaxConns) {
			return false
		}
		if b.inUse.CompareAndSwap(n, n+1) {
			b.requests.Add(1)
			return true
		}
	}
}

// Release gives back a slot claimed by Acquire, when the response has
// completed or the exchange has failed.
func (b *Backend) Release() { b.inUse.Add(-1) }

// InUse returns the requests in flight on the backend across all loops.
// LeastConn balances on it.
func (b *Backend) InUse() int64 { return b.inUse.Load() }

// ConnOpened counts a new connection to the backend (dialed, including
// pre-dialed idle ones). Pair it with ConnClosed.
func (b *Backend) ConnOpened() { b.conns.Add(1) }

// ConnClosed counts a connection to the backend closed, for whatever reason.
func (b *Backend) ConnClosed() { b.conns.Add(-1) }

// Conns returns the open connections to the backend across all loops, busy
// and idle.
func (b *Backend) Conns() int64 { return b.conns.Load() }
