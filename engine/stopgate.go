package engine

import (
	"errors"
	"sync/atomic"
	"time"
)

// An enrolment must not be under way when the engine stops.
//
// gnet's Enroll and Register hand the connection to a loop as a task and
// wait in a worker goroutine for the loop to run it. Engine.Stop queues a
// task that makes each loop return, and the tasks queued behind it are
// dropped; Enroll still takes connections until the loops have returned.
// A worker whose task was dropped waits for ever, holding the caller's
// net.Conn and the duplicate gnet made of it: two descriptors of one
// socket that nothing closes (the chaos test found them open after
// Shutdown; a dial refilling the pool or a re-enrolment as the engine
// stopped would each do it). So the engine is stopped only once no
// enrolment is under way: Shutdown closes the gate, which refuses new
// enrolments (their socket is closed, and the failure goes back to the
// loop as any other), and waits for those under way, which the loops,
// still running, finish.
//
// The accept loop's enrolments are settled by StopAccepting, which
// Shutdown calls first (listener.go).
type stopGate struct {
	under  atomic.Int64 // enrolments under way
	closed atomic.Bool
}

// errStopping refuses an enrolment once the engine is stopping.
var errStopping = errors.New("engine: stopping")

// enter admits an enrolment, unless the gate is closed; an admitted one
// calls leave once it has its result. The count goes up before the check,
// so that close, which sets the flag before it reads the count, sees
// every enrolment that passed.
func (g *stopGate) enter() bool {
	g.under.Add(1)
	if g.closed.Load() {
		g.under.Add(-1)
		return false
	}
	return true
}

func (g *stopGate) leave() { g.under.Add(-1) }

// close refuses enrolments from now on and waits, at most d, for those
// under way. It reports how many are left.
func (g *stopGate) close(d time.Duration) int64 {
	g.closed.Store(true)
	deadline := time.Now().Add(d)
	for {
		n := g.under.Load()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}
