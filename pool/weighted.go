package pool

import (
	"sync/atomic"
	"unsafe"
)

// maxScheduleWork bounds the cost of building a Weighted schedule, in
// steps of nginx's algorithm (backends × schedule entries): 16M steps is a
// few tens of milliseconds, off the event loops when the control plane
// builds it. Past it the weights are scaled down (each kept at 1 or more),
// which only a pool of hundreds of backends with very uneven weights
// reaches.
const maxScheduleWork = 1 << 24

// Weighted is nginx's smooth weighted round robin: over each cycle of
// sum(weights)/gcd picks every backend gets exactly its weight's share,
// and its picks are spread through the cycle rather than bunched (weights
// 5,1,1 give a a b a c a a, not a a a a a b c).
//
// nginx computes the rotation under a lock, one step per pick. Weighted
// computes one whole cycle once per backend list (the schedule) and then
// a pick is one atomic add and an index, shared by every event loop like
// RoundRobin's counter. The schedule is built by NewWeighted for the list
// it is given, and again by Pick when handed another list (a new Set
// snapshot, or after weights changed and a new list was published); build
// one with NewWeighted off the loops to keep that cost off the hot path.
//
// A pick that lands on an unusable backend is handed to the usable ones in
// proportion to their weights, by a second counter walking their
// cumulative weights: at most 2*len(backends) steps.
//
// The zero Weighted is ready to use; it must not be copied after first use.
type Weighted struct {
	_     [cacheLine]byte
	next  atomic.Uint64
	_     [cacheLine - 8]byte
	miss  atomic.Uint64 // the counter of picks redirected from unusable backends
	sched atomic.Pointer[schedule]
}

// schedule is one cycle of the smooth rotation of one backend list.
type schedule struct {
	list  []*Backend // the list it was built for (identity, see sameList)
	order []uint32   // indexes into list, one cycle
}

// NewWeighted returns a Weighted with its schedule built for backends.
func NewWeighted(backends []*Backend) *Weighted {
	w := new(Weighted)
	w.build(backends)
	return w
}

// Pick implements Balancer.
func (w *Weighted) Pick(backends []*Backend, now int64) *Backend {
	s := w.sched.Load()
	if s == nil || !sameList(s.list, backends) {
		s = w.build(backends)
	}
	n := uint64(len(s.order))
	if n == 0 {
		return nil
	}
	c := w.next.Add(1) - 1
	if b := backends[s.order[c%n]]; usable(b, now) {
		return b
	}
	return w.redirect(backends, now)
}

// redirect picks among the usable backends in proportion to their weights.
func (w *Weighted) redirect(backends []*Backend, now int64) *Backend {
	total := uint64(0)
	for _, b := range backends {
		if usable(b, now) {
			total += uint64(b.Weight())
		}
	}
	if total == 0 {
		return nil
	}
	r := (w.miss.Add(1) - 1) % total
	var last *Backend
	for _, b := range backends {
		if !usable(b, now) {
			continue
		}
		last = b
		wt := uint64(b.Weight())
		if r < wt {
			return b
		}
		r -= wt
	}
	return last // a weight or a state changed between the two scans
}

// sameList reports whether a and b are the same slice of the same array: a
// published list is never modified, so identity stands for content.
func sameList(a, b []*Backend) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// build computes and installs the schedule of backends.
func (w *Weighted) build(backends []*Backend) *schedule {
	weights := make([]int, len(backends))
	for i, b := range backends {
		weights[i] = b.Weight()
	}
	s := &schedule{list: backends, order: smoothOrder(weights)}
	w.sched.Store(s)
	return s
}

// smoothOrder returns one cycle of nginx's smooth weighted round robin
// (ngx_http_upstream_get_peer): at each step every backend's current
// weight grows by its weight, the largest (the first of equals) is picked
// and loses the total. Weights are first divided by their gcd, so the
// cycle is as short as the proportions allow, and scaled down when the
// work would pass maxScheduleWork.
func smoothOrder(weights []int) []uint32 {
	n := len(weights)
	if n == 0 {
		return nil
	}
	ws := reduceWeights(weights)
	total := 0
	for _, w := range ws {
		total += w
	}
	order := make([]uint32, total)
	current := make([]int, n)
	for k := range order {
		best := 0
		for i, w := range ws {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		order[k] = uint32(best)
	}
	return order
}

// reduceWeights divides weights by their gcd and, when backends × total
// would pass maxScheduleWork, scales them down proportionally (rounding,
// at least 1 each).
func reduceWeights(weights []int) []int {
	ws := make([]int, len(weights))
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	total := 0
	for i, w := range weights {
		ws[i] = w / g
		total += ws[i]
	}
	n := len(ws)
	if n*total <= maxScheduleWork {
		return ws
	}
	budget := max(maxScheduleWork/n, n) // total entries allowed; all-ones needs n
	for i, w := range ws {
		ws[i] = max(w*budget/total, 1)
	}
	return ws
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
