package pool

// This file holds what the control plane reads and sets on a Backend
// besides its health words: weight, counters, the last error and the
// ejection's end. None of it takes part in ejection (backend.go).

// Weights, as HAProxy's server weight: relative shares of the traffic of a
// pool under the Weighted balancer, and a tilt of the in-flight comparison
// under LeastConn and P2C. RoundRobin ignores them.
const (
	// DefaultWeight is the weight of a backend whose weight was never set.
	DefaultWeight = 1

	// MaxWeight bounds a weight (HAProxy's bound too): it keeps the
	// Weighted schedule of a pool within MaxWeight entries per backend.
	MaxWeight = 256
)

// Weight returns the backend's weight, 1 to MaxWeight.
func (b *Backend) Weight() int {
	if w := b.weight.Load(); w > 0 {
		return int(w)
	}
	return DefaultWeight
}

// SetWeight sets the weight; below 1 is 1 and above MaxWeight is
// MaxWeight. A Weighted balancer reads weights when it builds its schedule
// for a backend list, so whoever changes a weight publishes a new list (the
// control plane publishes a new Table).
func (b *Backend) SetWeight(w int) {
	b.weight.Store(int32(min(max(w, 1), MaxWeight)))
}

// Requests returns the number of requests sent to the backend: successful
// Acquires since it was created (HAProxy's stot).
func (b *Backend) Requests() uint64 { return b.requests.Load() }

// EjectedUntil returns the Unix-nanosecond instant the current or last
// passive back-off ends, or 0 if the backend was never ejected. It only
// reads the state that Eject keeps.
func (b *Backend) EjectedUntil() int64 { return b.ejectedUntil.Load() }

// noteworthy is one error noted on a backend.
type noteworthy struct {
	msg string
	at  int64
}

// NoteError records err, at now (Unix nanoseconds), as the backend's last
// error, for the admin API: a failed health probe, a failed connect. It
// takes no part in health or ejection decisions. A nil err is ignored.
func (b *Backend) NoteError(err error, now int64) {
	if err == nil {
		return
	}
	b.lastErr.Store(&noteworthy{msg: err.Error(), at: now})
}

// LastError returns the last error noted by NoteError and when (Unix
// nanoseconds); "" and 0 if there was none.
func (b *Backend) LastError() (msg string, at int64) {
	if n := b.lastErr.Load(); n != nil {
		return n.msg, n.at
	}
	return "", 0
}
