package engine

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestE2EGracefulShutdown drains the proxy with a slow request in flight:
// that request completes, idle keep-alive clients are closed, connections
// made once the drain started are not served, and Shutdown returns nil.
func TestE2EGracefulShutdown(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 10)
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.Contains(m.line, "/slow") {
				inFlight <- struct{}{}
				time.Sleep(300 * time.Millisecond)
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone") != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)

	idle := dialRaw(t, s.Addr())
	expectStatus(t, idle.roundTrip("GET", "GET /fast HTTP/1.1\r\nHost: d\r\n\r\n"), 200)

	busy := dialRaw(t, s.Addr())
	busy.send("GET /slow HTTP/1.1\r\nHost: d\r\n\r\n")
	select {
	case <-inFlight:
	case <-time.After(5 * time.Second):
		t.Fatal("slow request never reached the backend")
	}

	done := shutdownAsync(s)

	// The idle client is closed without a response.
	idle.expectEOF()

	// A connection made during the drain gets no service. It may be
	// refused, closed at once, or reset.
	if late, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		_ = late.SetDeadline(deadlineIn(5))
		_, _ = io.WriteString(late, "GET /fast HTTP/1.1\r\nHost: d\r\n\r\n")
		b, err := io.ReadAll(late)
		late.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("a connection made during the drain was left open")
		}
		if len(b) > 0 {
			t.Errorf("a connection made during the drain was served: %q", b)
		}
	}

	// The request in flight completes, and its connection then closes.
	m := busy.resp("GET")
	expectStatus(t, m, 200)
	if string(m.body) != "done" {
		t.Fatalf("in-flight response body %q", m.body)
	}
	if !strings.EqualFold(m.get("Connection"), "close") {
		t.Errorf("last response during a drain says Connection %q, want close", m.get("Connection"))
	}
	busy.expectEOF()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		_ = c.SetDeadline(deadlineIn(2))
		_, _ = io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: d\r\n\r\n")
		b, _ := io.ReadAll(c)
		c.Close()
		if len(b) > 0 {
			t.Errorf("served after Shutdown returned: %q", b)
		}
	}
}
