package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Parking (park.go): an idle keep-alive client leaves gnet, and comes back
// with its next request, whatever way that request arrives.

// parkedNow reports whether every loop agrees that n clients are parked:
// the server's count, and as many clients off the loop in a park set.
func parkedNow(t testing.TB, s *Server, n int) bool {
	if s.parked.Load() != int64(n) {
		return false
	}
	got := 0
	for _, l := range loopsOf(s) {
		done := make(chan int, 1)
		if l.el.Execute(t.Context(), runnable(func() {
			k := 0
			for _, cl := range l.clients {
				if cl.parked != 0 {
					if cl.sock.st != sockOff || l.parks.slots[cl.parked-1] != cl {
						k = -1 << 20 // a parked client must be off the loop, in its slot
					}
					k++
				}
			}
			done <- k
		})) != nil {
			return false
		}
		got += <-done
	}
	return got == n
}

// parkingProxy starts a proxy that parks clients idle for parkAfter, in
// front of a backend that answers 200.
func parkingProxy(t testing.TB, parkAfter, idle time.Duration) (*Server, *scripted) {
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.ParkAfter = parkAfter
	cfg.IdleTimeout = idle
	return startProxy(t, cfg), be
}

// parkedAllGone checks that once its clients have closed, s has no client
// left, parked or not, and its loops are quiet; then it stops s and be, and
// checks the descriptors are back to fds0.
func parkedAllGone(t *testing.T, s *Server, be *scripted, fds0 int) {
	t.Helper()
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 && parkedNow(t, s, 0) }) {
		t.Fatalf("%d clients, %d parked left", s.clients.Load(), s.parked.Load())
	}
	checkLoopsQuiet(t, s)
	shutdownClean(t, s)
	be.stop()
	if !eventually(5*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Errorf("descriptors: %d open, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
}

func TestE2EParkedClientComesBack(t *testing.T) {
	fds0 := baselineFDs(t)
	s, be := parkingProxy(t, 20*time.Millisecond, 10*time.Second)

	c := dialRaw(t, s.Addr())
	for i := range 5 {
		m := c.roundTrip("GET", fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
		expectStatus(t, m, 200)
		if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 1) }) {
			t.Fatalf("request %d: the idle client was not parked (%d parked)", i, s.parked.Load())
		}
		if i == 2 {
			// A request in pieces, the first of which wakes it.
			c.send("GET /slow HTTP/1.1\r\n")
			time.Sleep(50 * time.Millisecond)
			c.send("Host: h\r\n\r\n")
			expectStatus(t, c.resp("GET"), 200)
			if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 1) }) {
				t.Fatal("not parked again")
			}
		}
	}
	if n := s.parks.Load(); n < 6 {
		// One per quiet spell; a loaded machine may add one (a wake-up
		// gnet reads more than ParkAfter late is parked again).
		t.Errorf("%d parks counted, want at least 6", n)
	}
	// Two pipelined requests wake it at once.
	c.send("GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /p2 HTTP/1.1\r\nHost: h\r\n\r\n")
	expectStatus(t, c.resp("GET"), 200)
	expectStatus(t, c.resp("GET"), 200)
	c.Close()
	parkedAllGone(t, s, be, fds0)
}

// TestE2EParkedClientEnds: a parked client that closes, resets, half-closes
// with a request, or outlives its idle timeout is handled as one on the
// loop would be, and nothing of it stays.
func TestE2EParkedClientEnds(t *testing.T) {
	t.Parallel()
	s, _ := parkingProxy(t, 10*time.Millisecond, 2*time.Second)
	park := func(t *testing.T) *rawConn {
		c := dialRaw(t, s.Addr())
		expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 200)
		if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 1) }) {
			t.Fatalf("not parked (%d parked)", s.parked.Load())
		}
		return c
	}
	gone := func(t *testing.T) {
		if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 && parkedNow(t, s, 0) }) {
			t.Fatalf("%d clients, %d parked left: %s", s.clients.Load(), s.parked.Load(), loopProblems(t, s))
		}
	}
	t.Run("close", func(t *testing.T) {
		c := park(t)
		c.Close()
		gone(t)
	})
	t.Run("reset", func(t *testing.T) {
		c := park(t)
		resetConn(t, c.Conn)
		gone(t)
	})
	t.Run("half-close with a request", func(t *testing.T) {
		c := park(t)
		c.send("GET /last HTTP/1.1\r\nHost: h\r\n\r\n")
		if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, c.resp("GET"), 200)
		c.expectEOF()
		gone(t)
	})
	t.Run("idle timeout", func(t *testing.T) {
		c := park(t)
		start := time.Now()
		c.expectEOF()
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("closed after %v, idle timeout 2s", d)
		}
		gone(t)
	})
	t.Run("drain", func(t *testing.T) {
		c := park(t)
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(t.Context()) }()
		c.expectEOF()
		if err := recvWithin(t, done, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if s.clients.Load() != 0 || s.parked.Load() != 0 { // the loops have stopped
			t.Fatalf("%d clients, %d parked left", s.clients.Load(), s.parked.Load())
		}
	})
}

// TestE2EParkSetFails: should the park set fail, every parked client goes
// back on the loop, is served, and nothing is parked any more.
func TestE2EParkSetFails(t *testing.T) {
	t.Parallel()
	s, _ := parkingProxy(t, 10*time.Millisecond, 5*time.Second)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 200)
	if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 1) }) {
		t.Fatalf("not parked (%d parked)", s.parked.Load())
	}
	for _, l := range loopsOf(s) {
		if err := l.el.Execute(t.Context(), runnable(func() { l.parkSetFailed() })); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 0) }) {
		t.Fatalf("%d still parked", s.parked.Load())
	}
	for range 2 {
		expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 200)
		time.Sleep(50 * time.Millisecond) // past ParkAfter: nothing is parked any more
		if n := s.parked.Load(); n != 0 {
			t.Fatalf("%d parked on a failed park set", n)
		}
	}
	c.Close()
	if !eventually(5*time.Second, func() bool { return s.clients.Load() == 0 }) {
		t.Fatalf("%d clients left", s.clients.Load())
	}
	checkLoopsQuiet(t, s)
}

// openClients opens n clients to s that make one request each.
func openClients(t *testing.T, s *Server, n int) []*rawConn {
	t.Helper()
	cs := make([]*rawConn, n)
	for i := range cs {
		cs[i] = dialRaw(t, s.Addr())
		expectStatus(t, cs[i].roundTrip("GET", fmt.Sprintf("GET /a%d HTTP/1.1\r\nHost: h\r\n\r\n", i)), 200)
	}
	return cs
}

// countReleases runs s's trimmer until t ends, with waves of 4 and 50 ms
// polls, and counts its releases instead of making them.
func countReleases(t *testing.T, s *Server) *atomic.Int32 {
	var released atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go s.trimAfterWaves(ctx, trimPolicy{freed: 4, quiet: 50 * time.Millisecond, every: time.Hour,
		release: func() { released.Add(1) }})
	return &released
}

// A wave of parks is released once it is over, once; a park that comes
// after does not make another wave.
func TestTrimAfterParksWave(t *testing.T) {
	s, be := parkingProxy(t, 20*time.Millisecond, 10*time.Second)
	defer be.stop()
	released := countReleases(t, s)

	cs := openClients(t, s, 6)
	if !eventually(5*time.Second, func() bool { return released.Load() == 1 }) {
		t.Fatalf("%d releases after %d parks, want 1", released.Load(), s.parks.Load())
	}
	if n := s.parked.Load(); n != 6 {
		t.Errorf("%d parked at the release, want 6: it came before the wave was over", n)
	}
	// Within every, a second wave waits.
	for i, c := range cs {
		expectStatus(t, c.roundTrip("GET", fmt.Sprintf("GET /x%d HTTP/1.1\r\nHost: h\r\n\r\n", i)), 200)
	}
	if !eventually(5*time.Second, func() bool { return parkedNow(t, s, 6) }) {
		t.Fatalf("%d parked, want 6", s.parked.Load())
	}
	time.Sleep(200 * time.Millisecond)
	if n := released.Load(); n != 1 {
		t.Errorf("%d releases, want 1: the second wave came within every", n)
	}
	for _, c := range cs {
		c.Close()
	}
}

// Clients that close together are a wave too, parking or not.
func TestTrimAfterCloseWave(t *testing.T) {
	s, be := parkingProxy(t, time.Hour, 10*time.Second) // parking off
	defer be.stop()
	released := countReleases(t, s)

	cs := openClients(t, s, 6)
	time.Sleep(200 * time.Millisecond)
	if n := released.Load(); n != 0 {
		t.Fatalf("%d releases with every client open and none parked, want 0", n)
	}
	for _, c := range cs {
		c.Close()
	}
	if !eventually(5*time.Second, func() bool { return released.Load() == 1 }) {
		t.Fatalf("%d releases after %d closes, want 1", released.Load(), s.closes.Load())
	}
}

// The wave rules, poll by poll: a release once a poll sees no new park
// after enough, none while parks go on, none within every of the last.
func TestTrimWavePolls(t *testing.T) {
	p := trimPolicy{freed: 10, every: time.Minute}
	var w waveState
	var parks int64
	t0 := time.Unix(1000, 0)
	poll := func(at time.Duration, more int64, want bool) {
		t.Helper()
		parks += more
		if got := w.poll(p, parks, t0.Add(at)); got != want {
			t.Fatalf("poll at %v (%d parks so far): release %v, want %v", at, parks, got, want)
		}
	}
	poll(1*time.Second, 5, false) // parking
	poll(2*time.Second, 0, false) // quiet, but 5 parks are no wave
	for i := range 20 {           // steady parks: the wave never ends
		poll(time.Duration(3+i)*time.Second, 3, false)
	}
	poll(30*time.Second, 0, true)  // quiet after 65: released
	poll(31*time.Second, 0, false) // nothing new
	poll(32*time.Second, 40, false)
	poll(33*time.Second, 0, false) // over, but within every of the last release
	poll(89*time.Second, 0, false)
	poll(90*time.Second, 0, true) // every has passed
}

// serveEchoPath answers each request with its target as the body.
func serveEchoPath(c *bconn) {
	for {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		target := strings.Fields(m.line)[1]
		if c.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(target), target)) != nil {
			return
		}
	}
}

// onLoop runs f on l and waits for it.
func onLoop(t *testing.T, l *loop, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.el.Execute(t.Context(), runnable(func() { f(); close(done) })); err != nil {
		t.Fatal(err)
	}
	<-done
}

// parkedCrowd starts a one-loop proxy in front of a backend that echoes
// each request's target, opens n clients that make one request each, and
// waits until all of them are parked.
func parkedCrowd(t *testing.T, n int) (*Server, *scripted, []*rawConn) {
	t.Helper()
	be := startScripted(t, serveEchoPath)
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Backends = setOf(t, be.Addr())
	cfg.ParkAfter = 20 * time.Millisecond
	cfg.IdleTimeout = 10 * time.Second
	s := startProxy(t, cfg)
	cs := openClients(t, s, n)
	if !eventually(5*time.Second, func() bool { return parkedNow(t, s, n) }) {
		t.Fatalf("%d of %d parked", s.parked.Load(), n)
	}
	return s, be, cs
}

// A crowd of parked clients that all send a request at once goes back
// on the loop a few at a time (two here), the rest waiting their turn;
// each gets its own answer, and nothing is left behind.
func TestE2EParkedCrowdWakes(t *testing.T) {
	fds0 := baselineFDs(t)
	const n = 200
	s, be, cs := parkedCrowd(t, n)
	l := loopsOf(s)[0]
	onLoop(t, l, func() { l.reopens.max = 2 })
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Sprintf("/b%d.%d", round, i)
				if _, err := io.WriteString(c.Conn, "GET "+want+" HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
					errs <- err
					return
				}
				m, err := readResponse(c.r, "GET")
				switch {
				case err != nil:
					errs <- fmt.Errorf("client %d: %w", i, err)
				case m.status() != 200 || string(m.body) != want:
					errs <- fmt.Errorf("client %d: %q %q, want 200 %q", i, m.line, m.body, want)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if !eventually(5*time.Second, func() bool { return parkedNow(t, s, n) }) {
			t.Fatalf("round %d: %d of %d parked again", round, s.parked.Load(), n)
		}
	}
	var waited int64
	onLoop(t, l, func() { waited = l.reopens.waited })
	if w := waited; w == 0 {
		t.Error("no reopen waited its turn: the crowd did not test the line")
	} else {
		t.Logf("%d reopens waited their turn", w)
	}
	for _, c := range cs {
		c.Close()
	}
	parkedAllGone(t, s, be, fds0)
}

// Reopens still waiting their turn when the engine stops have their
// descriptors closed: none leaks.
func TestE2EReopenLineAtShutdown(t *testing.T) {
	fds0 := baselineFDs(t)
	const n = 50
	s, be, cs := parkedCrowd(t, n)
	// The line is full from now on: every reopen waits.
	l := loopsOf(s)[0]
	onLoop(t, l, func() { l.reopens.running += maxReopens })
	for _, c := range cs {
		c.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	if !eventually(5*time.Second, func() bool { return s.parked.Load() == 0 }) {
		t.Fatalf("%d still parked", s.parked.Load())
	}
	var waiting int
	onLoop(t, l, func() { waiting = l.reopens.queue.len() })
	if w := waiting; w != n {
		t.Fatalf("%d reopens waiting, want %d", w, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no drain: the engine stops with the reopens waiting
	_ = s.Shutdown(ctx)
	end := time.Now().Add(5 * time.Second)
	for i, c := range cs {
		// Each client sees its connection end, with no answer.
		_ = c.SetReadDeadline(end)
		if m, err := readResponse(c.r, "GET"); err == nil {
			t.Errorf("client %d: answered %q by a stopped engine", i, m.line)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("client %d: its connection was left open", i)
		}
		c.Close()
	}
	be.stop()
	if !eventually(5*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Errorf("descriptors: %d open, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
}
