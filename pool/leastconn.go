package pool

import (
	"math"
	"sync/atomic"
)

// LeastConn picks the usable backend with the fewest requests in flight
// (Backend.InUse, counted across every loop), for backends whose response
// times vary widely. Ties are broken in rotation from a shared counter, so
// with equal load it behaves as round robin instead of always choosing the
// first backend. The zero LeastConn is ready to use; it must not be copied
// after first use.
type LeastConn struct {
	_    [cacheLine]byte
	next atomic.Uint64
	_    [cacheLine - 8]byte
}

// Pick implements Balancer: one atomic add and a scan of every backend.
func (l *LeastConn) Pick(backends []*Backend, now int64) *Backend {
	n := uint64(len(backends))
	if n == 0 {
		return nil
	}
	j := (l.next.Add(1) - 1) % n
	var best *Backend
	least := int64(math.MaxInt64)
	for range n {
		b := backends[j]
		if usable(b, now) {
			if v := b.InUse(); v < least {
				best, least = b, v
			}
		}
		if j++; j == n {
			j = 0
		}
	}
	return best
}
