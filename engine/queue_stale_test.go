package engine

import "testing"

// TestQueueStaleWakeOfRequeuedClient replays a race: a freed slot pops a
// client's waiter and queues its wake on the client's loop; before the wake
// runs, the client's queue deadline passes (503) and its next, pipelined,
// request queues again behind the woken one. The wake that then runs was
// for the first request: it must not dispatch the second while its waiter
// is still listed (the list would keep a waiter whose client no longer
// counts itself queued, and a third wait would link it twice).
func TestQueueStaleWakeOfRequeuedClient(t *testing.T) {
	el := newFakeLoop()
	l := &loop{el: el, cfg: &Config{}}
	cl := &clientConn{l: l}
	q := new(poolQueue)
	w := &waiter{q: q, cl: cl}
	cl.qw = w

	link := func() { // enqueue's bookkeeping, at the tail
		q.mu.Lock()
		q.link(w, false)
		q.mu.Unlock()
		cl.ops.queued = true
	}

	link()      // the first request waits
	q.wakeOne() // a slot frees: its wake is queued on the loop
	if len(el.tasks) != 1 {
		t.Fatalf("%d wakes queued, want 1", len(el.tasks))
	}
	l.leaveQueue(cl) // its deadline passes first (queueExpired)
	link()           // the next request queues: the woken waiter still counts

	// The stale wake runs. It must pass the turn, not dispatch: with the
	// waiter listed again, that turn is the waiter's own new wake.
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("the stale wake dispatched the re-queued request: %v", r)
			}
		}()
		l.wakeQueued(cl, q)
	}()
	if !cl.ops.queued {
		t.Fatal("the re-queued request was taken out of the queue by the stale wake")
	}
	q.mu.Lock()
	n, listed := q.n, w.listed
	q.mu.Unlock()
	if listed && n != 1 || !listed && n != 0 {
		t.Fatalf("queue holds %d waiters, waiter listed %v", n, listed)
	}
	if got := q.waiting.Load(); got != 1 {
		t.Fatalf("waiting %d, want 1 (the re-queued request, listed or woken)", got)
	}
}

// TestQueueStaleWakeOfClientQueuedElsewhere is the same race when the
// client's next request waits in another pool's queue: the stale wake
// must count itself against the queue that woke it (else that queue keeps
// a waiter that does not exist, and every later request of its pool waits
// for a wake nothing sends) and leave the new wait alone.
func TestQueueStaleWakeOfClientQueuedElsewhere(t *testing.T) {
	el := newFakeLoop()
	l := &loop{el: el, cfg: &Config{}}
	cl := &clientConn{l: l}
	qa, qb := new(poolQueue), new(poolQueue)
	w := &waiter{cl: cl}
	cl.qw = w
	link := func(q *poolQueue) {
		q.mu.Lock()
		q.link(w, false)
		q.mu.Unlock()
		cl.ops.queued = true
	}

	link(qa)
	qa.wakeOne()
	if len(el.tasks) != 1 {
		t.Fatalf("%d wakes queued, want 1", len(el.tasks))
	}
	l.leaveQueue(cl) // the deadline passes first
	link(qb)         // the next request waits in pool b
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("the stale wake dispatched the request waiting in another pool: %v", r)
			}
		}()
		l.wakeQueued(cl, qa)
	}()
	if got := qa.waiting.Load(); got != 0 {
		t.Errorf("pool a: waiting %d after its only wake ran, want 0", got)
	}
	if got := qb.waiting.Load(); got != 1 || qb.n != 1 || !w.listed || !cl.ops.queued {
		t.Errorf("pool b: waiting %d, %d listed, waiter listed %v, client queued %v; want the new wait untouched",
			got, qb.n, w.listed, cl.ops.queued)
	}
}
