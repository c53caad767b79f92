package pool

// Balancer chooses the backend for a new request. Implementations are safe
// for concurrent use by every event loop, allocate nothing and take at most
// len(backends) steps.
type Balancer interface {
	// Pick returns one of backends that is Available at now (Unix
	// nanoseconds) and not Full, or nil when there is none (the engine
	// answers ErrNoBackend). backends is a Set snapshot and is not modified.
	Pick(backends []*Backend, now int64) *Backend
}

var (
	_ Balancer = (*RoundRobin)(nil)
	_ Balancer = (*Weighted)(nil)
	_ Balancer = (*LeastConn)(nil)
	_ Balancer = P2C{}
)

// cacheLine is the false-sharing unit of the CPUs PILB runs on (x86-64 and
// most arm64). Balancer counters are written by every loop on every request,
// so they get a line to themselves.
const cacheLine = 64

// usable reports whether b may take a new request at now.
func usable(b *Backend, now int64) bool { return b.Available(now) && !b.Full() }
