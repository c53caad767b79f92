package engine

import (
	"context"
	"runtime/debug"
	"time"
)

// Giving back the memory of a wave of connections that let go of theirs.
//
// A parked client lets go of gnet's state for it (park.go), about
// 0.5 KiB, and a closed connection (client or backend) of all it held;
// but to the Go heap, not to the system: the runtime returns free heap pages only after a collection,
// and a proxy whose clients have gone quiet or gone allocates nothing, so
// none comes (the runtime forces one every two minutes). After a burst,
// thousands of clients that go idle or leave together would leave the
// burst's memory with the process that long. So once such a wave is over
// (trimPolicy.freed connections parked or closed since the last release, and
// none for a poll period), a goroutine off the loops calls
// debug.FreeOSMemory: a collection, then every free page back to the
// system. It costs a few milliseconds of CPU for a heap of tens of MB, at
// most once per trimPolicy.every; the loops run on meanwhile but for the
// collection's short pauses. Parks and closes that go on steadily never
// end the wave: the memory they free is reused by the clients that come.

// trimPolicy says when a wave is released.
type trimPolicy struct {
	freed   int64         // connections parked or closed since the last release that make a wave worth releasing
	quiet   time.Duration // the poll period: a wave is over once a period passes without a park or close
	every   time.Duration // the least time between two releases
	release func()        // what gives the memory back
}

// defaultTrim releases a wave of 1,024 parked or closed connections or
// more: 0.5 MB at the least.
var defaultTrim = trimPolicy{freed: 1024, quiet: 250 * time.Millisecond, every: 10 * time.Second, release: debug.FreeOSMemory}

// letGo counts the clients parked and the connections closed since start.
func (s *Server) letGo() int64 { return s.parks.Load() + s.closes.Load() }

// trimAfterWaves runs p until ctx ends.
func (s *Server) trimAfterWaves(ctx context.Context, p trimPolicy) {
	t := time.NewTicker(p.quiet)
	defer t.Stop()
	w := waveState{released: s.letGo(), seen: s.letGo()}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.letGo()
			wave := n - w.released
			if w.poll(p, n, now) {
				p.release()
				s.log.Debug("memory of a wave of parked or closed connections given back to the system",
					"connections", wave, "took", time.Since(now))
			}
		}
	}
}

// waveState follows the waves from poll to poll.
type waveState struct {
	released int64     // connections counted at the last release
	seen     int64     // connections counted at the last poll
	last     time.Time // the last release; zero: none yet
}

// poll takes the connections parked or closed as counted at now, and reports
// whether a wave has just ended that is to be released.
func (w *waveState) poll(p trimPolicy, n int64, now time.Time) bool {
	if n != w.seen {
		w.seen = n // still going
		return false
	}
	if n-w.released < p.freed || !w.last.IsZero() && now.Sub(w.last) < p.every {
		return false
	}
	w.released, w.last = n, now
	return true
}
