package pool

import "math/rand/v2"

// P2C is the power of two random choices (Mitzenmacher; Envoy's and
// Finagle's least-request balancer): it draws two distinct backends at
// random and picks the one with fewer requests in flight relative to its
// weight. Unlike LeastConn it reads two backends, not all of them, so its
// cost does not grow with the pool, and unlike a full scan it does not
// send every loop's next request to the same least-loaded backend at once
// (the herd that stale in-flight counts cause).
//
// The random numbers come from math/rand/v2's global source, which is per
// thread in the runtime: no lock, no allocation, no shared cache line. When
// neither drawn backend is usable it falls back to LeastConn's scan from a
// random start, so an available backend is found if there is one.
//
// P2C has no state; the zero value is ready to use.
type P2C struct{}

// Pick implements Balancer: one random number and two backends, or a scan
// of all of them when both are unusable.
func (P2C) Pick(backends []*Backend, now int64) *Backend {
	n := uint64(len(backends))
	switch n {
	case 0:
		return nil
	case 1:
		if b := backends[0]; usable(b, now) {
			return b
		}
		return nil
	}
	r := rand.Uint64()
	i := (r & 0xffffffff) % n
	j := (r >> 32) % (n - 1) // one of the other n-1
	if j >= i {
		j++
	}
	a, b := backends[i], backends[j]
	ua, ub := usable(a, now), usable(b, now)
	switch {
	case ua && ub:
		if lighter(b, a) {
			return b
		}
		return a
	case ua:
		return a
	case ub:
		return b
	}
	return leastLoaded(backends, i, now)
}

// lighter reports whether a carries less load than b for its weight:
// (inUse+1)/weight compared by cross-multiplying, as HAProxy's leastconn
// does, so that with nothing in flight the heavier backend wins.
func lighter(a, b *Backend) bool {
	return (a.InUse()+1)*int64(b.Weight()) < (b.InUse()+1)*int64(a.Weight())
}

// leastLoaded scans every backend from start and returns the usable one
// that is lighter than every other, the first of equals; nil if none is
// usable.
func leastLoaded(backends []*Backend, start uint64, now int64) *Backend {
	n := uint64(len(backends))
	var best *Backend
	j := start
	for range n {
		if b := backends[j]; usable(b, now) && (best == nil || lighter(b, best)) {
			best = b
		}
		if j++; j == n {
			j = 0
		}
	}
	return best
}
