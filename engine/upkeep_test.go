package engine

import (
	"io"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// TestIdleConnsOfRemovedOrDrainingBackendsClosed: the idle pooled
// connections of a backend that leaves the set, or starts draining, are
// closed by the next tick instead of lingering for BackendIdleTimeout.
func TestIdleConnsOfRemovedOrDrainingBackendsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		retire func(set *pool.Set, b *pool.Backend)
	}{
		{"removed", func(set *pool.Set, b *pool.Backend) { set.Remove(b.ID) }},
		{"draining", func(_ *pool.Set, b *pool.Backend) { b.SetDraining(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			old, keep := startScripted(t, serveOK), startScripted(t, serveOK)
			set := &pool.Set{}
			bOld := &pool.Backend{ID: "old", Addr: old.Addr()}
			for _, b := range []*pool.Backend{bOld, {ID: "keep", Addr: keep.Addr()}} {
				if err := set.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			cfg := e2eConfig()
			cfg.Loops = 1
			cfg.ConnsPerBackend = 2
			cfg.BackendIdleTimeout = time.Minute
			cfg.Backends = set
			startProxy(t, cfg)
			if !eventually(5*time.Second, func() bool { return old.conns.Load() >= 2 }) {
				t.Fatalf("pre-dial: %d connections to the backend", old.conns.Load())
			}
			tc.retire(set, bOld)
			if !eventually(5*time.Second, func() bool { return old.closed.Load() == old.conns.Load() }) {
				t.Fatalf("%d of %d idle connections closed", old.closed.Load(), old.conns.Load())
			}
			if keep.closed.Load() != 0 {
				t.Fatalf("%d idle connections of the other backend closed", keep.closed.Load())
			}
		})
	}
}

// TestClientThatStopsReadingIsClosed: a client that reads none of a large
// response for IdleTimeout is cut off, and so is the paused backend
// connection, instead of both being held for ever.
func TestClientThatStopsReadingIsClosed(t *testing.T) {
	t.Parallel()
	gone := make(chan error, 1)
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		err := c.write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
		chunk := make([]byte, 64<<10)
		for err == nil {
			_, err = c.Write(chunk)
		}
		gone <- err
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.HighWater = 64 << 10
	s := startProxy(t, cfg)
	c := dialRawSmallRcv(t, s.Addr(), 4096)
	c.send("GET /huge HTTP/1.1\r\nHost: s\r\n\r\n")
	// Never read. The backend's writes fail once PILB closes its side.
	if err := recvWithin(t, gone, 10*time.Second); err == nil {
		t.Fatal("backend write loop ended without an error")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c.r)
	if err == nil && n >= 1<<30 {
		t.Fatalf("client read the whole body (%d bytes)", n)
	}
}

// TestMaxClientConns: past the cap a new connection is closed at once,
// and the clients under it are served as before.
func TestMaxClientConns(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.MaxClientConns = 2
	s, _ := proxyToDemo(t, 1, cfg)
	a, b := dialRaw(t, s.Addr()), dialRaw(t, s.Addr())
	expectStatus(t, a.roundTrip("GET", "GET / HTTP/1.1\r\nHost: m\r\n\r\n"), 200)
	expectStatus(t, b.roundTrip("GET", "GET / HTTP/1.1\r\nHost: m\r\n\r\n"), 200)
	over := dialRaw(t, s.Addr())
	over.send("GET / HTTP/1.1\r\nHost: m\r\n\r\n")
	over.expectEOF()
	expectStatus(t, a.roundTrip("GET", "GET / HTTP/1.1\r\nHost: m\r\n\r\n"), 200)
	a.Close()
	// The slot comes back once the server has seen the close.
	if !eventually(5*time.Second, func() bool { return s.clients.Load() < 2 }) {
		t.Fatal("closed client still counted")
	}
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: m\r\n\r\n"), 200)
}

func TestDefaultMaxClientConns(t *testing.T) {
	if n := defaultMaxClientConns(); n < 64 {
		t.Fatalf("default %d", n)
	}
}

// TestTunnelTimeout: a tunnel that carries nothing either way for
// TunnelTimeout is closed; one that carries bytes stays open.
func TestTunnelTimeout(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			return
		}
		if c.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n") != nil {
			return
		}
		_, _ = io.Copy(c.Conn, c.br) // echo until closed
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.TunnelTimeout = 400 * time.Millisecond
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("GET /t HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	expectStatus(t, c.resp("GET"), 101)
	for i := range 4 { // busy for longer than the timeout
		time.Sleep(150 * time.Millisecond)
		c.send("ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c.r, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo %d: %q, %v", i, buf, err)
		}
	}
	c.expectEOF() // then idle: closed
}
