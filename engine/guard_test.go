package engine

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStateTables: the transition tables describe machines without dead
// ends: every state is reachable from the first, closed is reachable from
// every state, and closed is final.
func TestStateTables(t *testing.T) {
	check := func(name string, n int, next func(from int) uint64, names func(int) string) {
		t.Helper()
		reach := func(from int) uint64 {
			seen := uint64(1) << from
			for changed := true; changed; {
				changed = false
				for s := range n {
					if seen&(1<<s) != 0 && seen|next(s) != seen {
						seen |= next(s)
						changed = true
					}
				}
			}
			return seen
		}
		closed := n - 1
		if all := uint64(1)<<n - 1; reach(0) != all {
			t.Errorf("%s: states unreachable from %s: %b", name, names(0), all&^reach(0))
		}
		for s := range n {
			if reach(s)&(1<<closed) == 0 {
				t.Errorf("%s: %s cannot reach %s", name, names(s), names(closed))
			}
		}
		if next(closed) != 0 {
			t.Errorf("%s: %s is not final", name, names(closed))
		}
	}
	check("socket", len(sockNext), func(s int) uint64 { return uint64(sockNext[s]) }, func(s int) string { return sockState(s).String() })
	check("client", len(clientNext), func(s int) uint64 { return uint64(clientNext[s]) }, func(s int) string { return clientPhase(s).String() })
	check("backend", len(backendNext), func(s int) uint64 { return uint64(backendNext[s]) }, func(s int) string { return backendPhase(s).String() })

	// An illegal move panics (and the loop's guard turns that into the
	// loss of one pair, below).
	defer func() {
		if recover() == nil {
			t.Fatal("closed -> idle did not panic")
		}
	}()
	cl := &clientConn{phase: cpClosed}
	cl.setPhase(cpIdle)
}

// TestPanicCostsOnePair: a panic on a loop (here an illegal transition,
// forced by corrupting a client's state while its request is upstream) is
// recovered: that client and its backend connection are closed, counted
// and logged once with the stack, and every other client is served as if
// nothing happened. Descriptors return to where they were.
func TestPanicCostsOnePair(t *testing.T) {
	if childOf(t) {
		panicScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 30*time.Second)
}

func panicScenario(t *testing.T) {
	fds0 := baselineFDs(t)

	release := make(chan struct{})
	got := make(chan struct{}, 1)
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.Contains(m.line, "/victim") {
				got <- struct{}{}
				<-release
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
				return
			}
		}
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Backends = setOf(t, be.Addr())
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	s := startProxy(t, cfg)

	bystander := dialRaw(t, s.Addr())
	expectStatus(t, bystander.roundTrip("GET", "GET /before HTTP/1.1\r\nHost: p\r\n\r\n"), 200)

	victim := dialRaw(t, s.Addr())
	victim.send("GET /victim HTTP/1.1\r\nHost: p\r\n\r\n")
	recvWithin(t, got, 5*time.Second)
	corrupted := make(chan bool, 1)
	for _, l := range loopsOf(s) {
		if err := l.el.Execute(context.Background(), runnable(func() {
			for _, cl := range l.clients {
				if cl.phase == cpExchange {
					cl.phase = cpLinger // a bug: the response's end cannot go to idle from here
					corrupted <- true
					return
				}
			}
			corrupted <- false
		})); err != nil {
			t.Fatal(err)
		}
	}
	if !recvWithin(t, corrupted, 5*time.Second) {
		t.Fatal("no client in an exchange to corrupt")
	}
	close(release)

	// The victim's connection ends (its response was written before the
	// transition that panicked)...
	_, _ = readResponse(victim.r, "GET")
	_ = victim.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := victim.r.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("victim's connection still open after the panic: %v", err)
	}
	// ...and everyone else is served.
	for range 3 {
		expectStatus(t, bystander.roundTrip("GET", "GET /after HTTP/1.1\r\nHost: p\r\n\r\n"), 200)
	}
	fresh := dialRaw(t, s.Addr())
	expectStatus(t, fresh.roundTrip("GET", "GET /new HTTP/1.1\r\nHost: p\r\n\r\n"), 200)
	if n := s.Panics(); n != 1 {
		t.Fatalf("%d panics counted, want 1", n)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Count(out, "recovered a panic") != 1 || !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "goroutine") {
		t.Fatalf("want one error record with the stack, got:\n%s", out)
	}

	victim.Close()
	bystander.Close()
	fresh.Close()
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
	shutdownClean(t, s)
	be.stop()
	if !eventually(5*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Fatalf("descriptors: %d open, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// loopsOf returns the loops of s that exist so far.
func loopsOf(s *Server) []*loop {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	loops := make([]*loop, 0, len(s.loops))
	for _, l := range s.loops {
		loops = append(loops, l)
	}
	return loops
}
