package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestWheelFiresEachDeadlineOnce: against a reference of the deadlines
// set, every timer fires once, no earlier than its deadline and within a
// tick after it, across random sets, moves (later and earlier) and stops,
// with deadlines up to several laps of the wheel ahead.
func TestWheelFiresEachDeadlineOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const tick = int64(wheelTick)
	now := int64(1_700_000_000) * int64(time.Second)
	var w wheel
	w.init(now)
	timers := make([]timer, 500)
	want := make([]int64, len(timers)) // the deadline each should fire at; 0: none
	fired := make([]int, len(timers))
	index := func(tm *timer) int {
		for i := range timers {
			if &timers[i] == tm {
				return i
			}
		}
		t.Fatal("unknown timer")
		return -1
	}
	for step := 0; step < 20_000; step++ {
		i := rng.IntN(len(timers))
		switch rng.IntN(4) {
		case 0, 1: // set or move, up to three laps ahead
			when := now + 1 + rng.Int64N(3*wheelSlots*tick)
			w.set(&timers[i], when)
			want[i] = when
		case 2:
			w.set(&timers[i], 0)
			want[i] = 0
		case 3: // time passes, sometimes a lot (a busy loop)
			if rng.IntN(50) == 0 {
				now += rng.Int64N(2 * wheelSlots * tick)
			} else {
				now += rng.Int64N(3 * tick)
			}
			w.advance(now, func(tm *timer) {
				j := index(tm)
				if want[j] == 0 {
					t.Fatalf("timer %d fired with no deadline", j)
				}
				if now < want[j] {
					t.Fatalf("timer %d fired at %d, before its deadline %d", j, now, want[j])
				}
				fired[j]++
				want[j] = 0
			})
			for j, d := range want {
				if d != 0 && d <= now-tick {
					t.Fatalf("timer %d with deadline %d not fired a tick after it (now %d, linked %v)", j, d, now, timers[j].linked())
				}
			}
		}
	}
	// Everything left fires once the clock passes the last deadline.
	now += 4 * wheelSlots * tick
	w.advance(now, func(tm *timer) { want[index(tm)] = 0 })
	for j, d := range want {
		if d != 0 {
			t.Fatalf("timer %d never fired (deadline %d)", j, d)
		}
	}
	if n := w.len(); n != 0 {
		t.Fatalf("%d timers still linked", n)
	}
}

// TestWheelFireMaySetTimers: a fire may set its own timer again and stop
// or move others due in the same advance.
func TestWheelFireMaySetTimers(t *testing.T) {
	now := int64(1000) * int64(time.Second)
	var w wheel
	w.init(now)
	var a, b, c timer
	w.set(&a, now+int64(wheelTick))
	w.set(&b, now+int64(wheelTick))
	w.set(&c, now+int64(wheelTick))
	var got []*timer
	now += 2 * int64(wheelTick)
	w.advance(now, func(tm *timer) {
		got = append(got, tm)
		if tm == &a {
			w.set(&a, now+int64(time.Second)) // again, later
			w.set(&b, 0)                      // stop b
			w.set(&c, now+int64(time.Hour))   // move c far away
		}
	})
	if len(got) != 1 || got[0] != &a {
		t.Fatalf("fired %d timers, want a only", len(got))
	}
	if !a.linked() || b.linked() || !c.linked() {
		t.Fatalf("after the fire: a linked %v, b linked %v, c linked %v", a.linked(), b.linked(), c.linked())
	}
}

// TestWheelCostIsPerDueTimer: a tick with many far deadlines visits only
// its slot; the work of an advance grows with the timers due, not with
// the timers held.
func TestWheelCostIsPerDueTimer(t *testing.T) {
	now := int64(1000) * int64(time.Second)
	var w wheel
	w.init(now)
	idle := make([]timer, 8000)
	for i := range idle {
		// Spread over the slots, as idle deadlines set at different
		// moments are.
		w.set(&idle[i], now+int64(time.Minute)+int64(i)*int64(wheelTick)/4)
	}
	visits := 0
	for range 100 {
		now += int64(wheelTick)
		h := &w.slots[(now/int64(wheelTick))%wheelSlots]
		for tm := h.next; tm != h; tm = tm.next {
			visits++
		}
		w.advance(now, func(*timer) { t.Fatal("nothing is due") })
	}
	// 100 of 1024 slots, each holding about 8000/1024 timers.
	if visits > 2*100*8000/wheelSlots {
		t.Fatalf("%d timer visits over 100 ticks", visits)
	}
}
