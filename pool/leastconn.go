package pool

import "sync/atomic"

// LeastConn picks the usable backend with the fewest requests in flight
// (Backend.InUse, counted across every loop) relative to its weight, for
// backends whose response times vary widely: the lowest (in-flight+1)/weight
// wins, as in HAProxy's leastconn, so with equal weights it is simply the
// fewest in flight. Ties are broken in rotation from a shared counter, so
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
	return leastLoaded(backends, (l.next.Add(1)-1)%n, now)
}
