package engine

import (
	"context"
	"runtime/debug"
	"time"
)

// Giving back the memory of a wave of parked clients.
//
// A parked client lets go of gnet's state for it (park.go), about
// 0.5 KiB, but to the Go heap, not to the system: the runtime returns free
// heap pages only after a collection, and a proxy whose clients have all
// gone quiet allocates nothing, so none comes (the runtime forces one
// every two minutes). Thousands of clients that go idle together, after a
// burst, would hold the burst's memory that long. So once a wave of parks
// is over (trimPolicy.parks parked since the last release, and none
// parked for a poll period), a goroutine off the loops calls
// debug.FreeOSMemory: a collection, then every free page back to the
// system. It costs a few milliseconds of CPU for a heap of tens of MB, at
// most once per trimPolicy.every; the loops run on meanwhile but for the
// collection's short pauses. Parks that go on steadily never leave the
// wave: the memory they free is reused by the clients that come.

// trimPolicy says when a wave of parks is released.
type trimPolicy struct {
	parks   int64         // parks since the last release that make a wave worth releasing
	quiet   time.Duration // the poll period: a wave is over once a period passes without a park
	every   time.Duration // the least time between two releases
	release func()        // what gives the memory back
}

// defaultTrim releases the memory of 1,024 parked clients (about 0.5 MB)
// or more.
var defaultTrim = trimPolicy{parks: 1024, quiet: 250 * time.Millisecond, every: 10 * time.Second, release: debug.FreeOSMemory}

// trimAfterParks runs p until ctx ends.
func (s *Server) trimAfterParks(ctx context.Context, p trimPolicy) {
	t := time.NewTicker(p.quiet)
	defer t.Stop()
	w := waveState{released: s.parks.Load(), seen: s.parks.Load()}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.parks.Load()
			wave := n - w.released
			if w.poll(p, n, now) {
				p.release()
				s.log.Debug("memory of a wave of parked clients given back to the system",
					"parks", wave, "took", time.Since(now))
			}
		}
	}
}

// waveState follows the waves of parks from poll to poll.
type waveState struct {
	released int64     // parks counted at the last release
	seen     int64     // parks counted at the last poll
	last     time.Time // the last release; zero: none yet
}

// poll takes the parks counted at now, and reports whether a wave has
// just ended that is to be released.
func (w *waveState) poll(p trimPolicy, parks int64, now time.Time) bool {
	if parks != w.seen {
		w.seen = parks // still parking
		return false
	}
	if parks-w.released < p.parks || !w.last.IsZero() && now.Sub(w.last) < p.every {
		return false
	}
	w.released, w.last = parks, now
	return true
}
