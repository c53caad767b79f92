package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/pool"
)

const (
	// DefaultInterval is the time between two resolutions of every target
	// (-dns-interval): an instance that an Auto Scaling group adds gets
	// traffic within about this, plus the record's own propagation.
	DefaultInterval = 5 * time.Second

	// DefaultHoldEmpty is how long a name that stopped existing keeps its
	// last addresses before they drain (HAProxy's hold nx default).
	DefaultHoldEmpty = 30 * time.Second

	// maxConcurrent bounds the lookups of one round in flight.
	maxConcurrent = 8
)

// Replacer is the registry side: control.Registry.Replace.
type Replacer interface {
	Replace(owner string, src control.Source, specs []control.Spec) error
}

// Watcher resolves its targets every Interval and hands each answer to the
// registry. Refresh runs a round at once (SIGHUP).
type Watcher struct {
	Targets  []Target
	Resolver *Resolver
	Registry Replacer
	// Interval is the time between rounds; 0 means DefaultInterval.
	Interval time.Duration
	// HoldEmpty is how long a name that stopped existing keeps its last
	// answer; 0 means DefaultHoldEmpty, negative drains at once.
	HoldEmpty time.Duration
	// Logger receives failures at Warn (once per failing spell) and
	// answers at Debug; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	round  sync.Mutex // one round at a time: Run's and Refresh's
	states map[string]*state
}

// state is what a round remembers of a target.
type state struct {
	had      int       // addresses applied last
	emptyAt  time.Time // when the name was first found gone; zero if it exists
	failing  bool      // the last lookup failed (logged once)
	resolved bool      // some lookup has succeeded
}

// Refresh resolves every target now and applies the answers. It returns an
// error naming each Required target that has never resolved; other
// failures are logged and keep the last answer.
func (w *Watcher) Refresh(ctx context.Context) error {
	w.round.Lock()
	defer w.round.Unlock()
	if w.states == nil {
		w.states = make(map[string]*state)
	}
	type result struct {
		eps []Endpoint
		err error
	}
	results := make([]result, len(w.Targets))
	sem := make(chan struct{}, maxConcurrent)
	var wg sync.WaitGroup
	for i, t := range w.Targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			eps, err := w.Resolver.Lookup(ctx, t)
			results[i] = result{eps, err}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err() // cancelled lookups say nothing of the names
	}
	var errs []error
	for i, t := range w.Targets {
		if err := w.apply(t, results[i].eps, results[i].err); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// apply hands one target's answer to the registry, or keeps the last one.
func (w *Watcher) apply(t Target, eps []Endpoint, err error) error {
	log := w.logger()
	st := w.states[t.owner()]
	if st == nil {
		st = new(state)
		w.states[t.owner()] = st
	}
	now := w.now()
	switch {
	case err == nil:
		if st.failing {
			log.Info("name resolves again", "target", t, "addresses", len(eps))
		}
		st.failing, st.resolved, st.emptyAt = false, true, time.Time{}
	case NotFound(err) && st.had == 0:
		eps = nil // nothing to hold
		if !st.failing {
			log.Warn("name has no address", "target", t, "err", describe(err))
		}
		st.failing = true
	case NotFound(err):
		if st.emptyAt.IsZero() {
			st.emptyAt = now
			log.Warn("name has no address any more; keeping its last ones for a while", "target", t,
				"hold", w.holdEmpty(), "err", describe(err))
		}
		st.failing = true
		if now.Sub(st.emptyAt) < w.holdEmpty() {
			return w.required(t, st, err)
		}
		log.Warn("name still has no address: draining its backends", "target", t, "backends", st.had)
		eps = nil
	default:
		if !st.failing {
			log.Warn("lookup failed; keeping the last answer", "target", t, "err", describe(err))
		}
		st.failing = true
		return w.required(t, st, err)
	}
	specs := make([]control.Spec, 0, len(eps))
	for _, e := range eps {
		specs = append(specs, control.Spec{
			ID:     backendID(t, e.Addr.String()),
			Pool:   t.Pool,
			Addr:   e.Addr.String(),
			Weight: e.Weight,
		})
	}
	log.Debug("resolved", "target", t, "addresses", len(specs))
	st.had = len(specs)
	if rerr := w.Registry.Replace(t.owner(), t.Source, specs); rerr != nil {
		log.Warn("some addresses were not added", "target", t, "err", rerr)
	}
	return w.required(t, st, err)
}

// required returns an error for a Required target that never resolved.
func (w *Watcher) required(t Target, st *state, err error) error {
	if t.Required && !st.resolved {
		if err == nil {
			err = ErrNoAddress
		}
		return fmt.Errorf("%s: %s", t, describe(err))
	}
	return nil
}

// Run runs a round every Interval until ctx is done. The first round is one
// Interval away: call Refresh first to resolve at start.
func (w *Watcher) Run(ctx context.Context) {
	every := w.Interval
	if every <= 0 {
		every = DefaultInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = w.Refresh(ctx) // failures are logged; Required only matters at start
		}
	}
}

func (w *Watcher) holdEmpty() time.Duration {
	switch {
	case w.HoldEmpty < 0:
		return 0
	case w.HoldEmpty == 0:
		return DefaultHoldEmpty
	}
	return w.HoldEmpty
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger.With("component", "dns")
}

// backendID names the backend of one address of t: name@address, and
// pool:name@address outside the default pool, so that one name in two
// pools (-backends-dns api=svc:80 -backends-dns web=svc:80, or one
// server behind two pools) makes two backends rather than an id clash that
// leaves the second pool empty.
func backendID(t Target, addr string) string {
	if t.Pool == "" || t.Pool == pool.DefaultPool {
		return t.Name + "@" + addr
	}
	return t.Pool + ":" + t.Name + "@" + addr
}
