package engine

import (
	"sync"
	"sync/atomic"

	"github.com/pilb-proxy/pilb/pool"
)

// The queue (HAProxy's maxconn queue): when every available backend of a
// pool is at its cap (pool.Backend.MaxConns, -max-conns-per-backend), a
// request waits, in arrival order, for a slot to free, at most
// Config.QueueTimeout (then 503), in a queue of at most Config.MaxQueue
// requests per pool (past it, 503 at once). A pool whose backends are all
// down, ejected or draining answers 503 at once: no slot will free there.
//
// One queue per pool, shared by the loops. A slot freed on one loop may
// go to a request waiting on another: requests are routed per request to
// any backend of their pool, whatever loop their client is on.
//
//   - The hot path stays lock-free. A freed slot (unbind) reads the pool's
//     waiting count, one atomic load of a line written only while requests
//     wait; a new request reads it too before picking. Only when requests
//     wait does either take the queue's mutex.
//   - Arrival order. While requests wait (waiting > 0), a new request
//     queues behind them rather than take a slot that frees under its
//     feet. A freed slot pops the oldest waiter under the mutex and wakes
//     it on its own loop (EventLoop.Execute); that waiter counts as
//     waiting until it has run, so that no newcomer takes its slot
//     meanwhile. On its loop it picks and acquires as any request does;
//     should a slot still not be free (a retry elsewhere took it), it goes
//     back to the head of the queue, its deadline unchanged.
//   - No lost wake-up. A request enqueues itself (waiting goes up), then
//     tries to acquire once more; a slot freed in between either is seen
//     by that try, or its release sees waiting > 0 and wakes a waiter.
//     Both can happen: the waiter woken then finds the request gone from
//     the queue and passes the turn to the next.
//   - A waiter that leaves (its client closed, its deadline passed) is
//     unlinked under the mutex; one already woken passes the turn on when
//     its wake runs.
//
// Only a request's first try queues: a retry (after a connect failure)
// that finds every slot taken is answered 502 as before, since the bytes
// it would keep waiting may be a dial's, which are recycled.

// poolQueue is the queue of one pool.
type poolQueue struct {
	// waiting counts the waiters in the list and the woken ones whose
	// wake has not run yet.
	waiting atomic.Int64
	mu      sync.Mutex
	head    *waiter // oldest
	tail    *waiter
	n       int // waiters in the list
}

// waiter is a queued request; it is embedded in its client's clientOps.
type waiter struct {
	q          *poolQueue
	cl         *clientConn
	prev, next *waiter
	listed     bool  // in q's list
	woken      bool  // popped, its wake not run yet
	retry      bool  // its wake is dispatching it: it goes first, and back to the head if it must wait
	deadline   int64 // Unix nanoseconds
}

// queue returns the queue of pool name, creating it.
func (s *Server) queue(name string) *poolQueue {
	if q, ok := s.ops.queues.Load(name); ok {
		return q.(*poolQueue)
	}
	q, _ := s.ops.queues.LoadOrStore(name, new(poolQueue))
	return q.(*poolQueue)
}

// pickOrQueue picks a backend of cl's pool and acquires a slot on it, as
// dispatch does, unless requests wait in the pool's queue: then, or when
// every available backend is at its cap, cl's request waits (queued). It
// returns the backend, or nil with handled when the request was queued or
// refused here (a full queue: 503); nil without handled leaves the failure
// to dispatch (no backend available).
func (l *loop) pickOrQueue(cl *clientConn) (b *pool.Backend, handled bool) {
	var q *poolQueue
	retry := cl.qw != nil && cl.qw.retry
	if retry {
		cl.qw.retry = false
	}
	if l.cfg.QueueTimeout > 0 && cl.tries == 1 {
		q = l.srv.queue(cl.pool.Name())
		if !retry && q.waiting.Load() > 0 {
			l.enqueue(q, cl, false)
			return nil, true
		}
	}
	if b = cl.pool.Pick(l.now); b != nil && b.Acquire() {
		return b, false
	}
	if q == nil || !anyAvailable(cl.pool, l.now) {
		return nil, false // nothing to wait for
	}
	l.enqueue(q, cl, retry)
	if !cl.ops.queued {
		return nil, true // refused: the queue is full (503)
	}
	// A slot freed since the pick went unseen by its release if this
	// request was not queued yet: try once more.
	if b = cl.pool.Pick(l.now); b != nil && b.Acquire() {
		l.leaveQueue(cl)
		return b, false
	}
	return nil, true
}

// enqueue queues cl's request in q (at its head for a woken waiter that
// found no slot), or answers 503 when q is full.
func (l *loop) enqueue(q *poolQueue, cl *clientConn, front bool) {
	if cl.qw == nil {
		cl.qw = new(waiter)
	}
	w := cl.qw
	w.cl = cl
	q.mu.Lock()
	if !front && q.n >= l.cfg.MaxQueue {
		q.mu.Unlock()
		if l.cfg.Metrics {
			l.ops.stats.pool(cl.pool.Name()).queueFull++
		}
		l.failExchange(cl, 503, ErrQueueFull, fromInternal)
		return
	}
	q.link(w, front)
	q.mu.Unlock()
	if !front {
		w.deadline = l.now + int64(l.cfg.QueueTimeout)
		if l.cfg.Metrics {
			l.ops.stats.pool(cl.pool.Name()).queued++
		}
	}
	cl.ops.queued = true
	l.wheel.set(&cl.tm, w.deadline)
}

// link puts w in q's list, at its head when front, and counts it; q.mu is
// held. unlink undoes it.
func (q *poolQueue) link(w *waiter, front bool) {
	w.q, w.listed = q, true
	if front {
		w.prev, w.next = nil, q.head
		if q.head != nil {
			q.head.prev = w
		} else {
			q.tail = w
		}
		q.head = w
	} else {
		w.prev, w.next = q.tail, nil
		if q.tail != nil {
			q.tail.next = w
		} else {
			q.head = w
		}
		q.tail = w
	}
	q.n++
	q.waiting.Add(1)
}

// unlink takes w out of its queue's list; q.mu is held.
func (q *poolQueue) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.listed = nil, nil, false
	q.n--
	q.waiting.Add(-1)
}

// leaveQueue takes cl's request out of its queue: it got a slot, timed
// out, or its client left. A waiter already woken stays counted until its
// wake runs, which passes the turn on.
func (l *loop) leaveQueue(cl *clientConn) {
	if !cl.ops.queued {
		return
	}
	cl.ops.queued = false
	w := cl.qw
	q := w.q
	q.mu.Lock()
	if w.listed {
		q.unlink(w)
	}
	q.mu.Unlock()
}

// slotFreed runs when a request slot on b is given back: it wakes the
// oldest request waiting in b's pool, if any.
func (l *loop) slotFreed(b *pool.Backend) {
	if l.cfg.QueueTimeout <= 0 || b.MaxConns <= 0 {
		return
	}
	if q, ok := l.srv.ops.queues.Load(poolName(b.Pool)); ok {
		if q := q.(*poolQueue); q.waiting.Load() > 0 {
			q.wakeOne()
		}
	}
}

// wakeOne pops the oldest waiter and runs its wake on its loop.
func (q *poolQueue) wakeOne() {
	q.mu.Lock()
	w := q.head
	if w == nil {
		q.mu.Unlock()
		return
	}
	q.head = w.next
	if q.head != nil {
		q.head.prev = nil
	} else {
		q.tail = nil
	}
	w.next, w.listed, w.woken = nil, false, true
	q.n-- // still counted in waiting until its wake runs
	cl := w.cl
	q.mu.Unlock()
	l := cl.l
	if !l.exec(func() { l.wakeQueued(cl, q) }) {
		q.waiting.Add(-1) // the engine is stopping
	}
}

// wakeQueued runs on a woken waiter's loop, for q, the queue that woke it:
// the request goes to a backend, or back to the head of the queue; a waiter
// that left passes the turn on. So does one whose request left and whose
// client's next request queued again before this wake ran (its wait timed
// out in the same loop round): that wait, in q or in another pool's queue,
// keeps its place, and this wake is not for it. Counting the wake against
// w.q instead would leave q one waiter too many for good (every later
// request of its pool would wait for a wake nothing sends), and
// dispatching would leave the new wait listed.
func (l *loop) wakeQueued(cl *clientConn, q *poolQueue) {
	w := cl.qw
	// w.q is written on this loop only; w.listed under w.q's mutex, by
	// whichever loop pops it.
	stale := w.q != q
	q.mu.Lock()
	if !stale {
		w.woken = false
		stale = w.listed
	}
	q.mu.Unlock()
	q.waiting.Add(-1)
	if stale || !cl.ops.queued || !cl.alive() {
		q.wakeOne() // the slot this wake was for is free: the next one's
		return
	}
	cl.ops.queued = false
	cl.tries-- // the queued try never went out: dispatch counts it again
	w.retry = true
	l.refreshPool(cl)
	l.dispatch(cl, cl.out.B)
	if cl.alive() && cl.be != nil && !cl.reqDone {
		l.serveClient(cl) // the body that waited
	}
}

// releaseSlot gives back be's request slot (pool.Backend.Release), and
// lets a request queued for one take it.
func releaseSlot(be *backendConn) {
	be.b.Release()
	if be.l != nil {
		be.l.slotFreed(be.b)
	}
}

// queueExpired answers a request whose wait passed Config.QueueTimeout.
func (l *loop) queueExpired(cl *clientConn) {
	l.leaveQueue(cl)
	if l.cfg.Metrics {
		l.ops.stats.pool(cl.pool.Name()).queueTimeouts++
	}
	l.failExchange(cl, 503, ErrQueueTimeout, fromInternal)
}

// queuedInput is what serveClient does for a client whose request waits:
// nothing, but stop reading it past HighWater (a body, pipelined
// requests), as for a request in flight.
func (l *loop) queuedInput(cl *clientConn) {
	if cl.inputLen() > l.cfg.HighWater {
		l.pauseClient(cl)
	}
}

// queueLen returns the requests waiting in the queue of pool name.
func (s *Server) queueLen(name string) int {
	q, ok := s.ops.queues.Load(name)
	if !ok {
		return 0
	}
	pq := q.(*poolQueue)
	pq.mu.Lock()
	defer pq.mu.Unlock()
	return pq.n
}
