package pool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestBackendZeroState(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	if !b.Healthy() || b.Draining() || b.Ejected(0) || b.Full() || !b.Available(0) {
		t.Fatalf("zero Backend: healthy=%v draining=%v ejected=%v full=%v available=%v",
			b.Healthy(), b.Draining(), b.Ejected(0), b.Full(), b.Available(0))
	}
}

func TestBackendAvailableWords(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	b.SetHealthy(false)
	if b.Healthy() || b.Available(0) {
		t.Fatal("unhealthy backend is available")
	}
	b.SetHealthy(true)
	b.SetDraining(true)
	if !b.Healthy() || b.Available(0) {
		t.Fatal("draining backend: want healthy and not available")
	}
	b.SetDraining(false)
	if !b.Available(0) {
		t.Fatal("restored backend not available")
	}
}

func TestBackoffGrowthAndRecovery(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	now := 100 * sec
	want := []time.Duration{
		500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second,
	}
	for i, w := range want {
		d := b.Eject(now)
		if d != w {
			t.Fatalf("failure %d: back-off %v, want %v", i+1, d, w)
		}
		if b.Available(now) || b.Available(now+int64(d)-1) {
			t.Fatalf("failure %d: available during back-off", i+1)
		}
		// Failures inside the back-off are the same incident.
		if d2 := b.Eject(now + int64(d) - 1); d2 != 0 {
			t.Fatalf("failure %d: failure during back-off started %v", i+1, d2)
		}
		// A success from a request sent before the ejection proves nothing.
		b.ReportSuccess(now + 1)
		if b.Failures() != i+1 {
			t.Fatalf("failure %d: level %d after in-back-off success", i+1, b.Failures())
		}
		now += int64(d)
		if !b.Available(now) {
			t.Fatalf("failure %d: not available (half-open) after back-off", i+1)
		}
	}
	// The half-open trial succeeds: the next failure starts from the base.
	b.ReportSuccess(now)
	if b.Failures() != 0 {
		t.Fatalf("level %d after success, want 0", b.Failures())
	}
	if d := b.Eject(now); d != BaseEjection {
		t.Fatalf("back-off after recovery %v, want %v", d, BaseEjection)
	}
}

func TestEjectConcurrentIsOneIncident(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Eject(sec)
			}
		})
	}
	wg.Wait()
	if b.Failures() != 1 {
		t.Fatalf("level %d after one simultaneous burst, want 1", b.Failures())
	}
}

func TestAcquireRespectsMaxConns(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1", MaxConns: 3}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if b.Acquire() {
					mu.Lock()
					got++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if got != 3 || b.InUse() != 3 || !b.Full() {
		t.Fatalf("acquired %d, in use %d, full %v; want 3, 3, true", got, b.InUse(), b.Full())
	}
	b.Release()
	if b.Full() || !b.Acquire() {
		t.Fatal("released slot not reusable")
	}

	unlimited := &Backend{ID: "s2", Addr: "127.0.0.1:2"}
	for range 1000 {
		if !unlimited.Acquire() {
			t.Fatal("MaxConns 0 refused Acquire")
		}
	}
	if unlimited.Full() {
		t.Fatal("MaxConns 0 is Full")
	}
}

func TestConnCounts(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	b.ConnOpened()
	b.ConnOpened()
	b.ConnClosed()
	if b.Conns() != 1 {
		t.Fatalf("Conns %d, want 1", b.Conns())
	}
}

// TestPoolReportFailure: passive ejection takes EjectAfter consecutive
// failures (a success in between starts the count again), then one while
// half-open, and never takes out the last available backend of the pool.
func TestPoolReportFailure(t *testing.T) {
	bs := newBackends(2)
	p := NewPool("p", bs, nil)
	now := 100 * sec
	for i := 1; i < EjectAfter; i++ {
		if d := p.ReportFailure(bs[0], now); d != 0 {
			t.Fatalf("failure %d ejected for %v", i, d)
		}
	}
	bs[0].ReportSuccess(now)
	for i := 1; i < EjectAfter; i++ {
		if d := p.ReportFailure(bs[0], now); d != 0 {
			t.Fatalf("failure %d after a success ejected for %v", i, d)
		}
	}
	if d := p.ReportFailure(bs[0], now); d != BaseEjection {
		t.Fatalf("failure %d: back-off %v, want %v", EjectAfter, d, BaseEjection)
	}
	// Half-open after the back-off: one failure ejects again, for longer.
	now += int64(BaseEjection)
	if d := p.ReportFailure(bs[0], now); d != 2*BaseEjection {
		t.Fatalf("half-open failure: back-off %v, want %v", d, 2*BaseEjection)
	}
	// bs[1] is now the last available backend: it stays, however often
	// it fails.
	for i := range 10 * EjectAfter {
		if d := p.ReportFailure(bs[1], now); d != 0 || !bs[1].Available(now) {
			t.Fatalf("failure %d of the last available backend ejected it for %v", i+1, d)
		}
	}
	if got := bs[1].ConsecutiveFailures(); got != 10*EjectAfter {
		t.Fatalf("%d consecutive failures counted, want %d", got, 10*EjectAfter)
	}
}

// TestPoolReportFailureConcurrentKeepsOne: when two loops report the
// ejecting failure of the two backends of a pool at the same moment, each
// sees the other still available before it ejects its own; one of the two
// must stay available all the same. (Before the fix both were ejected
// within the first few dozen rounds, -race or not.)
func TestPoolReportFailureConcurrentKeepsOne(t *testing.T) {
	now := 100 * sec
	for round := range 2000 {
		bs := newBackends(2)
		p := NewPool("p", bs, nil)
		for _, b := range bs {
			for range EjectAfter - 1 {
				p.ReportFailure(b, now)
			}
		}
		var ready atomic.Int32
		var wg sync.WaitGroup
		for _, b := range bs {
			wg.Go(func() {
				ready.Add(1)
				for ready.Load() < 2 {
					runtime.Gosched()
				}
				p.ReportFailure(b, now)
			})
		}
		wg.Wait()
		if !bs[0].Available(now) && !bs[1].Available(now) {
			t.Fatalf("round %d: both backends of the pool ejected at once: the last available one must stay", round)
		}
	}
}

// TestCancelEjection: an ejection taken back leaves the backend as it was
// before it: available, at its former level, with its failures counted.
func TestCancelEjection(t *testing.T) {
	b := &Backend{ID: "s1", Addr: "127.0.0.1:1"}
	d, prev, level := b.eject(10 * sec)
	if d != BaseEjection || prev != 0 || level != 1 {
		t.Fatalf("eject: %v %d %d", d, prev, level)
	}
	b.cancelEjection(10*sec, d, prev, level)
	if !b.Available(10*sec) || b.Failures() != 0 || b.EjectedUntil() != 0 {
		t.Fatalf("after cancel: available=%v level=%d until=%d", b.Available(10*sec), b.Failures(), b.EjectedUntil())
	}
	// Another ejection since is not undone.
	d, prev, level = b.eject(20 * sec)
	b.Eject(20*sec + int64(d)) // a later incident, level 2
	b.cancelEjection(20*sec, d, prev, level)
	if b.Available(20*sec+int64(d)) || b.Failures() != 2 {
		t.Fatalf("a later ejection was undone: level %d", b.Failures())
	}
}
