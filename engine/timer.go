package engine

import "time"

// Deadlines live in a hashed timing wheel per loop (Varghese and Lauck's
// scheme 6, as in Netty's HashedWheelTimer and the Linux kernel's timer
// lists): setting, moving and stopping a deadline are O(1), and a tick
// visits only the slots whose time has come, so the cost of timeouts does
// not grow with the number of idle connections. Each connection embeds one
// timer: at any moment it has at most one deadline that matters (the
// header, idle, body, backend, linger or tunnel one).
//
// A deadline that moves later (every request refreshes one) is not moved
// in the wheel: the timer fires at its old slot, finds its deadline in the
// future and goes to the new slot then. So the hot path only writes a
// field, and a busy connection's timer is relinked about once per timeout.

const (
	// wheelTick is the wheel's resolution: deadlines fire within a tick
	// (plus the loop's tick period) after they pass.
	wheelTick = 10 * time.Millisecond
	// wheelSlots spans about ten seconds; later deadlines wait in their
	// slot for the right lap, costing one visit per lap.
	wheelSlots = 1024
)

// timer is one deadline in a wheel, embedded in the connection it is for.
type timer struct {
	when       int64 // the deadline, Unix nanoseconds; 0: none
	at         int64 // the wheel tick it is linked at
	prev, next *timer
	cl         *clientConn // what it is for: one of cl and be
	be         *backendConn
}

func (t *timer) linked() bool { return t.next != nil }

func (t *timer) unlink() {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next = nil, nil
}

// wheel is a loop's set of deadlines.
type wheel struct {
	slots [wheelSlots]timer // list heads
	cur   int64             // the first tick not yet processed
	due   []*timer          // advance's scratch, reused
}

func (w *wheel) init(now int64) {
	for i := range w.slots {
		h := &w.slots[i]
		h.prev, h.next = h, h
	}
	w.cur = now / int64(wheelTick)
}

// set gives t the deadline when (Unix nanoseconds); 0 stops it.
func (w *wheel) set(t *timer, when int64) {
	t.when = when
	if when == 0 {
		if t.linked() {
			t.unlink()
		}
		return
	}
	at := (when + int64(wheelTick) - 1) / int64(wheelTick)
	if at < w.cur {
		at = w.cur
	}
	if t.linked() {
		if t.at <= at {
			return // fires no later than needed, and moves on then
		}
		t.unlink()
	}
	w.link(t, at)
}

func (w *wheel) link(t *timer, at int64) {
	t.at = at
	h := &w.slots[at%wheelSlots]
	t.prev, t.next = h.prev, h
	h.prev.next = t
	h.prev = t
}

// advance fires, through fire, every timer whose deadline is at or before
// now. fire may set and stop any timer, including the one it is given.
func (w *wheel) advance(now int64, fire func(*timer)) {
	end := now / int64(wheelTick)
	if end < w.cur {
		return // the clock stepped back: nothing is due before it catches up
	}
	n := min(end-w.cur+1, wheelSlots)
	for k := int64(0); k < n; k++ {
		h := &w.slots[(w.cur+k)%wheelSlots]
		for t := h.next; t != h; {
			next := t.next
			if t.at <= end {
				t.unlink()
				w.due = append(w.due, t)
			}
			t = next
		}
	}
	w.cur = end + 1
	for i, t := range w.due {
		w.due[i] = nil
		switch {
		case t.linked(), t.when == 0:
			// set again (or stopped) by an earlier fire of this round
		case t.when > now:
			w.set(t, t.when) // moved later: wait for the new slot
		default:
			t.when = 0
			fire(t)
		}
	}
	w.due = w.due[:0]
}

// len counts the linked timers; for tests.
func (w *wheel) len() int {
	n := 0
	for i := range w.slots {
		h := &w.slots[i]
		for t := h.next; t != h; t = t.next {
			n++
		}
	}
	return n
}
