package pool

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Active health check defaults, HAProxy's unless said otherwise.
const (
	// DefaultInterval is the time between probe rounds (HAProxy's inter).
	DefaultInterval = 2 * time.Second

	// DefaultRise is the consecutive successes that bring a down backend up:
	// two, so one lucky probe of a flapping backend does not.
	DefaultRise = 2

	// DefaultFall is the consecutive failures that take an up backend down:
	// three, so one lost probe does not; passive ejection covers the gap.
	DefaultFall = 3

	// DefaultConcurrency bounds the probes in flight in one round, so a
	// large pool costs a bounded number of sockets and goroutines. Ours.
	DefaultConcurrency = 16
)

// Checker probes the backends of a Set every Interval and flips their
// Healthy state after Rise consecutive successes or Fall consecutive
// failures. Its fields are read, never written, by Run, so one Checker may
// Run on several Sets at once. The zero Checker TCP-connects to each backend
// every DefaultInterval with the default thresholds.
type Checker struct {
	// Interval is the time between the starts of two probe rounds; zero or
	// negative means DefaultInterval. A round that outlasts it delays the
	// next rather than overlapping it.
	Interval time.Duration

	// Timeout bounds one probe through its context; zero or negative means
	// Interval. A probe that times out has failed.
	Timeout time.Duration

	// Rise is the consecutive successful probes that make an unhealthy
	// backend healthy; zero or negative means DefaultRise.
	Rise int

	// Fall is the consecutive failed probes that make a healthy backend
	// unhealthy; zero or negative means DefaultFall.
	Fall int

	// Concurrency bounds the probes in flight; zero or negative means
	// DefaultConcurrency.
	Concurrency int

	// Probe checks one backend and returns nil if it is up. It must return
	// soon after ctx is done. Nil means TCPProbe(0): connect and close. An
	// HTTP probe is injected by cmd, since this package knows no HTTP.
	Probe func(ctx context.Context, b *Backend) error

	// Logger receives a record at Info for each transition and at Debug for
	// each failed probe, under component=health. Nil discards them.
	Logger *slog.Logger
}

// probeState is Run's record of one backend's consecutive results.
type probeState struct {
	ok, fail int    // consecutive successes, failures
	round    uint64 // last round the backend was in the Set
}

// Lister lists backends: a *Set, or *Routes for every pool at once.
type Lister interface {
	Snapshot() []*Backend
}

// Run probes the backends of set until ctx is done, then returns once its
// probes have stopped. The first round starts at once. Each round probes the
// snapshot of that moment, so added backends (registered through the admin
// API, found in DNS) are picked up and removed ones forgotten.
func (c *Checker) Run(ctx context.Context, set Lister) {
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "health")

	states := make(map[*Backend]*probeState)
	t := time.NewTicker(interval)
	defer t.Stop()
	for round := uint64(1); ; round++ {
		backends := set.Snapshot()
		errs := c.probeAll(ctx, backends)
		if ctx.Err() != nil {
			return // the probes were cancelled: their errors say nothing
		}
		for i, b := range backends {
			st := states[b]
			if st == nil {
				st = new(probeState)
				states[b] = st
			}
			st.round = round
			c.record(log, b, st, errs[i])
		}
		for b, st := range states {
			if st.round != round {
				delete(states, b)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeAll probes backends with at most Concurrency in flight and returns
// their results in the same order.
func (c *Checker) probeAll(ctx context.Context, backends []*Backend) []error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = c.Interval
		if timeout <= 0 {
			timeout = DefaultInterval
		}
	}
	probe := c.Probe
	if probe == nil {
		probe = TCPProbe(0)
	}
	conc := c.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}

	errs := make([]error, len(backends))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, b := range backends {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errs
		}
		wg.Go(func() {
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = probe(pctx, b)
		})
	}
	wg.Wait()
	return errs
}

// record applies one probe result and flips b on a rise or fall.
func (c *Checker) record(log *slog.Logger, b *Backend, st *probeState, err error) {
	rise, fall := c.Rise, c.Fall
	if rise <= 0 {
		rise = DefaultRise
	}
	if fall <= 0 {
		fall = DefaultFall
	}
	if err == nil {
		st.ok, st.fail = st.ok+1, 0
		if !b.Healthy() && st.ok >= rise {
			b.SetHealthy(true)
			log.Info("backend up", "backend", b.ID, "addr", b.Addr, "probes", st.ok)
		}
		return
	}
	st.ok, st.fail = 0, st.fail+1
	b.NoteError(fmt.Errorf("health probe: %w", err), time.Now().UnixNano())
	if log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("probe failed", "backend", b.ID, "addr", b.Addr, "fails", st.fail, "err", err)
	}
	if b.Healthy() && st.fail >= fall {
		b.SetHealthy(false)
		log.Info("backend down", "backend", b.ID, "addr", b.Addr, "probes", st.fail, "err", err)
	}
}

// TCPProbe returns a Checker.Probe that opens a TCP connection to the
// backend's Addr and closes it: up means accepting connections. timeout
// bounds the connect on top of the probe context's deadline; zero or
// negative leaves only the context's.
func TCPProbe(timeout time.Duration) func(ctx context.Context, b *Backend) error {
	d := net.Dialer{Timeout: max(timeout, 0)}
	return func(ctx context.Context, b *Backend) error {
		conn, err := d.DialContext(ctx, "tcp", b.Addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
