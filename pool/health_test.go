package pool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the Checker's goroutine and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or a generous deadline passes: the
// checker's timing is not asserted, only its outcome.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	// Re-listening on a just-closed port can briefly fail; retry.
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// serve accepts and closes connections until ln is closed.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func TestCheckerTCPLoopback(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	go serve(ln)
	addr := ln.Addr().String()

	up := &Backend{ID: "up", Addr: addr}
	up.SetHealthy(false) // must rise
	var set Set
	if err := set.Add(up); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	c := &Checker{
		Interval: 20 * time.Millisecond,
		Timeout:  time.Second,
		Rise:     2,
		Fall:     3,
		Probe:    TCPProbe(time.Second),
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx, &set)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, "listening backend to rise", up.Healthy)

	ln.Close()
	waitFor(t, "closed port to fall", func() bool { return !up.Healthy() })

	ln = listen(t, addr)
	defer ln.Close()
	go serve(ln)
	waitFor(t, "reopened port to rise", up.Healthy)

	out := logs.String()
	for _, want := range []string{"component=health", `msg="backend up"`, `msg="backend down"`, "backend=up"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestCheckerRiseFallCounts(t *testing.T) {
	c := &Checker{Rise: 2, Fall: 3}
	b := &Backend{ID: "s", Addr: "s:1"}
	st := new(probeState)
	log := slog.New(slog.DiscardHandler)
	fail := errors.New("refused")

	steps := []struct {
		err     error
		healthy bool
	}{
		{fail, true}, {fail, true}, {nil, true}, // a success resets the fall count
		{fail, true}, {fail, true}, {fail, false}, // third consecutive: down
		{nil, false}, {fail, false}, {nil, false}, // a failure resets the rise count
		{nil, true}, // second consecutive: up
	}
	for i, s := range steps {
		c.record(log, b, st, s.err)
		if b.Healthy() != s.healthy {
			t.Fatalf("step %d: healthy %v, want %v", i, b.Healthy(), s.healthy)
		}
	}
}

func TestCheckerZeroValueDefaults(t *testing.T) {
	var c Checker
	b := &Backend{ID: "s", Addr: "s:1"}
	st := new(probeState)
	log := slog.New(slog.DiscardHandler)
	for range DefaultFall - 1 {
		c.record(log, b, st, errors.New("x"))
	}
	if !b.Healthy() {
		t.Fatal("fell before DefaultFall failures")
	}
	c.record(log, b, st, errors.New("x"))
	if b.Healthy() {
		t.Fatal("did not fall at DefaultFall failures")
	}
}

// TestCheckerBoundedAndStops checks Concurrency bounds probes in flight and
// Run returns promptly once ctx is done, even with probes blocked.
func TestCheckerBoundedAndStops(t *testing.T) {
	var set Set
	for _, b := range newBackends(10) {
		set.Add(b)
	}
	var mu sync.Mutex
	inFlight, peak, started := 0, 0, 0
	c := &Checker{
		Interval:    time.Hour,
		Concurrency: 3,
		Probe: func(ctx context.Context, b *Backend) error {
			mu.Lock()
			inFlight++
			started++
			peak = max(peak, inFlight)
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			inFlight--
			mu.Unlock()
			return ctx.Err()
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx, &set)
		close(done)
	}()
	waitFor(t, "probes to start", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return started >= 3
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if peak > 3 {
		t.Fatalf("%d probes in flight, Concurrency 3", peak)
	}
	for _, b := range set.Snapshot() {
		if !b.Healthy() {
			t.Fatalf("%s marked down by cancelled probes", b.ID)
		}
	}
}

func TestTCPProbeClosedPort(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if err := TCPProbe(time.Second)(context.Background(), &Backend{Addr: addr}); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
}
