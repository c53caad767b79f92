package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// heldLoop is a gnet.EventLoop whose Execute keeps the tasks for the test
// to run, so that a test can put events between a wake and its run.
type heldLoop struct{ tasks []gnet.Runnable }

func (h *heldLoop) Register(context.Context, net.Addr) (<-chan gnet.RegisteredResult, error) {
	return nil, errors.ErrUnsupported
}

func (h *heldLoop) Enroll(context.Context, net.Conn) (<-chan gnet.RegisteredResult, error) {
	return nil, errors.ErrUnsupported
}

func (h *heldLoop) Execute(_ context.Context, r gnet.Runnable) error {
	h.tasks = append(h.tasks, r)
	return nil
}

func (h *heldLoop) Schedule(context.Context, gnet.Runnable, time.Duration) error {
	return errors.ErrUnsupported
}

func (h *heldLoop) Close(gnet.Conn) error { return nil }

// TestQueueStaleWakeOfRequeuedClient replays a race: a freed slot pops a
// client's waiter and queues its wake on the client's loop; before the wake
// runs, the client's queue deadline passes (503) and its next, pipelined,
// request queues again behind the woken one. The wake that then runs was
// for the first request: it must not dispatch the second while its waiter
// is still listed (the list would keep a waiter whose client no longer
// counts itself queued, and a third wait would link it twice).
func TestQueueStaleWakeOfRequeuedClient(t *testing.T) {
	el := &heldLoop{}
	l := &loop{el: el, cfg: &Config{}}
	cl := &clientConn{l: l}
	q := new(poolQueue)
	w := &waiter{q: q, cl: cl}
	cl.ops.qw = w

	link := func() { // enqueue's bookkeeping, at the tail
		q.mu.Lock()
		w.listed, w.prev = true, q.tail
		if q.tail != nil {
			q.tail.next = w
		} else {
			q.head = w
		}
		q.tail = w
		q.n++
		q.waiting.Add(1)
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
		l.wakeQueued(cl)
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
