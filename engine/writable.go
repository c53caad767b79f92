package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The write watch: when a socket with queued output can take more.
//
// gnet tells its handler nothing about writability: it drains its own
// outbound buffer itself, and PILB does not use that buffer (outq.go). So
// each loop has an epoll instance of its own, in which a socket is
// registered (EPOLLOUT, edge-triggered) only while output is queued for
// it, whether it is on the loop or off it. A goroutine per loop waits on
// that epoll instance and hands the ready sockets to the loop in one task
// (gnet's Execute), where their queues are written. A socket is in the
// watch from the write the kernel did not take whole until its queue is
// empty or it leaves its descriptor (sock.setState): one epoll_ctl to
// add, one to delete, as gnet's own ModReadWrite and ModRead cost; and
// nothing is polled, so thousands of sockets blocked on slow readers cost
// nothing until one of them can be written.
//
// The registration is made with the descriptor the socket has then (gnet's
// or, off the loop, PILB's duplicate) and deleted through the same one
// before it is closed or handed on: an epoll registration outlives the
// descriptor it was made with while a duplicate keeps the socket open.

// writeWatch is one loop's write watch. slots, free and epoch belong to
// the loop; ready is shared with the waiting goroutine under mu.
type writeWatch struct {
	l     *loop
	ep    int
	slots []*outq // registered queues, by slot; the slot is the epoll event's data
	free  []int32 // unused slots
	epoch uint64  // task count: a queue is written at most once per task

	mu     sync.Mutex
	ready  []int32
	spare  []int32
	posted atomic.Bool
	task   gnet.RunnableFunc
}

// noWriteWatch makes loops go without a write watch, as when
// newWriteWatch fails: tests of the drain poll's fallback set it.
var noWriteWatch bool

// newWriteWatch sets up l's write watch, or returns nil when the epoll
// instance cannot be made (out of descriptors): the drain poll writes
// queued output then (pause.go).
func newWriteWatch(l *loop) *writeWatch {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		l.srv.log.Warn("write watch unavailable: queued output is polled", "err", err)
		return nil
	}
	w := &writeWatch{l: l, ep: ep}
	w.task = func(context.Context) error {
		w.run()
		return nil
	}
	return w
}

// add registers q, queued for the socket whose descriptor is fd. It
// reports false when epoll refuses it (the drain poll takes over).
func (w *writeWatch) add(q *outq, fd int) bool {
	var slot int32
	if k := len(w.free); k > 0 {
		slot = w.free[k-1]
		w.free = w.free[:k-1]
	} else {
		slot = int32(len(w.slots))
		w.slots = append(w.slots, nil)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLET, Fd: slot}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.free = append(w.free, slot)
		return false
	}
	w.slots[slot] = q
	q.fd, q.slot = fd, slot
	return true
}

// remove takes q out of the watch, through the descriptor it was
// registered with, which is still open.
func (w *writeWatch) remove(q *outq) {
	_ = unix.EpollCtl(w.ep, unix.EPOLL_CTL_DEL, q.fd, nil)
	w.slots[q.slot] = nil
	w.free = append(w.free, q.slot)
	q.fd, q.slot = -1, -1
}

// wait runs off the loop until ctx ends: it waits for sockets to become
// writable and queues one task on the loop for all that are. Edge-triggered
// registration reports a socket again only after a write filled it anew,
// so nothing spins while the loop is busy.
func (w *writeWatch) wait(ctx context.Context) {
	evs := make([]unix.EpollEvent, 256)
	for ctx.Err() == nil {
		n, err := unix.EpollWait(w.ep, evs, int(tickSlow.Milliseconds())*10)
		if err != nil && err != unix.EINTR {
			return // the epoll instance is gone: the engine stopped
		}
		if n <= 0 {
			continue
		}
		w.mu.Lock()
		for _, ev := range evs[:n] {
			w.ready = append(w.ready, ev.Fd)
		}
		w.mu.Unlock()
		if w.posted.CompareAndSwap(false, true) {
			if w.l.el.Execute(ctx, w.task) != nil {
				return
			}
		}
	}
}

// run writes the queues of the sockets reported writable; it runs on the
// loop.
func (w *writeWatch) run() {
	w.posted.Store(false) // events from now on queue another task
	w.mu.Lock()
	batch := w.ready
	w.ready = w.spare[:0]
	w.mu.Unlock()
	l := w.l
	l.enter(nil)
	defer l.leave(nil, nil, nil)
	w.epoch++
	for _, slot := range batch {
		if slot < 0 || int(slot) >= len(w.slots) {
			continue
		}
		q := w.slots[slot]
		if q == nil || q.epoch == w.epoch {
			continue // gone since, or written in this task already
		}
		q.epoch = w.epoch
		it := q.owner
		l.safely(it.cl, it.be, func() { l.writable(it) })
	}
	w.spare = batch[:0]
}

// close releases the epoll instance once the engine has stopped.
func (w *writeWatch) close() { _ = unix.Close(w.ep) }

// writable writes the queued output of a socket that can take more, and
// hurries the drain poll when something waits on that drain.
func (l *loop) writable(it watchItem) {
	var s *sock
	if it.cl != nil {
		if !it.cl.alive() {
			return
		}
		s = &it.cl.sock
	} else {
		if it.be.phase == bpClosed {
			return
		}
		s = &it.be.sock
	}
	progress, err := s.flush()
	if err != nil {
		l.sockFailed(it.cl, it.be, err)
		return
	}
	if !progress {
		return
	}
	if cl := it.cl; cl != nil {
		if be := cl.be; be != nil && be.sock.st == sockOff && be.sock.watched && cl.sock.out() <= l.cfg.HighWater/4 {
			// Its backend was paused for its sake: resume it now rather
			// than at the drain poll's next turn (checkBackend drops it
			// from the watch then).
			l.reopenBackend(be)
			return
		}
	}
	if l.drainWaits(it) {
		l.pollSoon()
	}
}

// drainWaits reports whether the drain poll watches a connection for the
// sake of its output: its own close, or its peer paused until it drains.
func (l *loop) drainWaits(it watchItem) bool {
	if cl := it.cl; cl != nil {
		return cl.sock.watched || cl.be != nil && cl.be.sock.watched
	}
	be := it.be
	return be.sock.watched || be.cl != nil && be.cl.sock.watched
}
