package pool

import "sync/atomic"

// RoundRobin picks backends in turn. One counter is shared by every event
// loop, so the rotation is per request across the whole process: over N
// picks each of k usable backends gets N/k, within one, whatever the number
// of goroutines picking (HAProxy's balance roundrobin, without weights).
// The zero RoundRobin is ready to use; it must not be copied after first use.
type RoundRobin struct {
	_    [cacheLine]byte
	next atomic.Uint64
	_    [cacheLine - 8]byte
}

// Pick implements Balancer with one atomic add and at most len(backends)
// checks.
//
// Pick c starts at backends[c%n]. When that backend is not usable, the
// simple fix, probing c+1, c+2, ..., gives its whole share to its successor:
// with one of three backends down the next one gets two thirds of the
// traffic (HAProxy and Caddy behave so). Instead the probe starts at an
// offset that advances by one each time the rotation lands on the same
// unusable backend (c/n grows by exactly one per lap), so its share is
// spread evenly over the other n-1: with one backend down each of the rest
// gets exactly 1/(n-1). With several down, the probe from the offset falls
// through to the next usable one, which is only a second-order skew.
func (r *RoundRobin) Pick(backends []*Backend, now int64) *Backend {
	n := uint64(len(backends))
	if n == 0 {
		return nil
	}
	c := r.next.Add(1) - 1
	i := c % n
	if b := backends[i]; usable(b, now) {
		return b
	}
	if n == 1 {
		return nil
	}
	off := (c / n) % (n - 1) // 0..n-2
	for k := uint64(1); k < n; k++ {
		o := off + k // off+1..off+n-1, folded into 1..n-1: each other backend once
		if o >= n {
			o -= n - 1
		}
		j := i + o
		if j >= n {
			j -= n
		}
		if b := backends[j]; usable(b, now) {
			return b
		}
	}
	return nil
}
