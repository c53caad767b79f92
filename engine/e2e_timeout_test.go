package engine

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Timeouts. No test asserts how long anything took: each waits, with a
// generous deadline, for the outcome a timeout must produce.

// TestE2EHeaderTimeout: a client that sends half a head and stops gets 408
// and a close once HeaderTimeout passes; a client that sends nothing at
// all is closed.
func TestE2EHeaderTimeout(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	// Long enough that, under -race with the suite in parallel, the loop
	// has surely seen the first bytes before the deadline counted from
	// accept: after it a connection that sent nothing may be closed
	// without a 408, which is what "nothing sent" checks.
	cfg.HeaderTimeout = time.Second
	s, _ := proxyToDemo(t, 1, cfg)

	t.Run("half a head", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr())
		c.send("GET / HTTP/1.1\r\nHo")
		_ = c.SetReadDeadline(deadlineIn(5))
		m := c.resp("GET")
		expectStatus(t, m, 408)
		if !strings.EqualFold(m.get("Connection"), "close") {
			t.Errorf("408 says Connection %q", m.get("Connection"))
		}
		c.expectEOF()
	})

	t.Run("head trickling in too slowly", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr())
		// One byte every 50ms, 3.5s in all: the deadline counts from
		// the first byte, so progress does not extend it (slowloris).
		req := "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + strings.Repeat("s", 60) + "\r\n\r\n"
		var status int
		for i := 0; i < len(req); i++ {
			if _, err := c.Write([]byte{req[i]}); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
			if c.r.Buffered() > 0 || readable(c) {
				break
			}
		}
		_ = c.SetReadDeadline(deadlineIn(5))
		m, err := readResponse(c.r, "GET")
		if err == nil {
			status = m.status()
		}
		if status != 408 {
			t.Fatalf("slow head: status %d (%v), want 408", status, err)
		}
	})

	t.Run("nothing sent", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr())
		_ = c.SetReadDeadline(deadlineIn(5))
		// A 408 before the close is allowed; a close is required.
		b, err := io.ReadAll(c.r)
		if err != nil && !isReset(err) {
			t.Fatalf("idle new connection: %v after %q", err, b)
		}
		if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408 ") {
			t.Fatalf("idle new connection got %q", b)
		}
	})

	t.Run("a timely head is served", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, s.Addr())
		c.send("GET / HTTP/1.1\r\n")
		time.Sleep(200 * time.Millisecond)
		c.send("Host: t\r\n\r\n")
		expectStatus(t, c.resp("GET"), 200)
	})
}

// readable reports whether the server has sent something (or closed)
// without blocking for long.
func readable(c *rawConn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := c.r.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestE2EIdleTimeout: a keep-alive client that goes quiet after a
// response is closed once IdleTimeout passes, without a byte more.
func TestE2EIdleTimeout(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.IdleTimeout = time.Second // far above the pauses of the client that keeps talking
	s, _ := proxyToDemo(t, 1, cfg)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 200)
	c.expectEOF()

	// A client that keeps talking inside the timeout is not cut off.
	c2 := dialRaw(t, s.Addr())
	for range 4 {
		expectStatus(t, c2.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 200)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EBackendIdleTimeout: a pooled backend connection unused for
// BackendIdleTimeout is closed by PILB, which the backend sees as EOF.
func TestE2EBackendIdleTimeout(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.BackendIdleTimeout = 300 * time.Millisecond
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 200)
	if !eventually(5*time.Second, func() bool { return be.closed.Load() == 1 }) {
		t.Fatalf("pooled backend connection still open long after BackendIdleTimeout")
	}
	// The client is unaffected: its next request dials a new connection.
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"), 200)
	if got := be.conns.Load(); got != 2 {
		t.Fatalf("backend saw %d connections, want 2", got)
	}
}

// TestE2EBackendStallsMidBody: a backend that sends part of a body and
// goes silent for longer than BackendTimeout gets its client cut off,
// which sees a truncated response.
func TestE2EBackendStallsMidBody(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		if c.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100)) != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c.br) // silent until PILB closes
		c.s.closed.Add(1)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.BackendTimeout = 300 * time.Millisecond
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	m, err := readResponse(c.r, "GET")
	if err == nil {
		t.Fatalf("complete-looking response from a stalled backend: %d body bytes", len(m.body))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("client still waiting: the stalled exchange was never cut off")
	}
	if !eventually(5*time.Second, func() bool { return be.closed.Load() == 1 }) {
		t.Fatal("stalled backend connection not closed")
	}
}
