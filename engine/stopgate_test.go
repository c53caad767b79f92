package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestShutdownWaitsForEnrolment stops the engine around two enrolments on
// a busy loop: one under way when Shutdown starts, one asked for after
// gnet's stop task is queued. gnet drops a registration queued behind its
// stop task, and its worker then waits for ever with two descriptors of
// the socket. Shutdown must let the first end and refuse the second, and
// leave no descriptor behind.
func TestShutdownWaitsForEnrolment(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fds0 := baselineFDs(t)

	cfg := e2eConfig()
	cfg.Backends = setOf(t, ln.Addr().String())
	s := startProxy(t, cfg)
	c, err := net.Dial("tcp", s.Addr()) // a loop's state exists from its first client
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !eventually(5*time.Second, func() bool { return len(loopsOf(s)) > 0 && s.clients.Load() == 0 }) {
		t.Fatal("no loop state after a client came and went")
	}
	l := loopsOf(s)[0]

	// Keep the loop busy, so that registrations and the stop wait in its
	// queue, in the order they come.
	blocked, release := make(chan struct{}), make(chan struct{})
	if err := l.el.Execute(context.Background(), runnable(func() { close(blocked); <-release })); err != nil {
		t.Fatal(err)
	}
	<-blocked
	var peers []net.Conn
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	// enrol enrolls a new connection to ln on l (as a client, which OnOpen
	// refuses: the server is draining).
	enrol := func() <-chan error {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, peer)
		done := make(chan error, 1)
		go func() { done <- l.enroll(nil, nc) }()
		return done
	}

	first := enrol()
	if !eventually(5*time.Second, func() bool { return s.enrols.under.Load() == 1 }) {
		t.Fatal("the enrolment did not start")
	}
	stopped := shutdownAsync(s)
	// By then, without the gate, gnet's stop task would be queued.
	time.Sleep(200 * time.Millisecond)
	second := enrol()
	time.Sleep(50 * time.Millisecond)
	close(release)

	if err := recvWithin(t, stopped, 10*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, ch := range []<-chan error{first, second} {
		want := []error{nil, errStopping}[i]
		select {
		case err := <-ch:
			if !errors.Is(err, want) {
				t.Errorf("enrolment %d: %v, want %v", i+1, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("enrolment %d never ended: its registration was queued behind the engine's stop", i+1)
		}
	}
	for _, p := range peers {
		p.Close()
	}
	peers = nil
	if !eventually(5*time.Second, func() bool { return openFDs(t) <= fds0 }) {
		t.Errorf("descriptors: %d open after Shutdown, %d before\n%s", openFDs(t), fds0, fdList(t))
	}
}
