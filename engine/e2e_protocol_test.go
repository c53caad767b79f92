package engine

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Interim responses (Expect: 100-continue, RFC 9110 §10.1.1, §15.2) and
// protocol upgrades (RFC 9110 §7.8).

// TestE2EExpectContinue sends a head with Expect: 100-continue, waits for
// the 100 before sending the body, and gets the final response.
func TestE2EExpectContinue(t *testing.T) {
	t.Parallel()

	t.Run("demo backend", func(t *testing.T) {
		t.Parallel()
		s, _ := proxyToDemo(t, 1, e2eConfig())
		c := dialRaw(t, s.Addr())
		for i := range 2 {
			c.send("POST /echo HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
			m := c.resp("POST")
			expectStatus(t, m, 100)
			c.send("hello world")
			m = c.resp("POST")
			expectStatus(t, m, 200)
			if string(m.body) != "hello world" {
				t.Fatalf("round %d: body %q", i, m.body)
			}
		}
	})

	t.Run("scripted 100 and 103 then final", func(t *testing.T) {
		t.Parallel()
		be := startScripted(t, func(c *bconn) {
			for {
				m, err := readHead(c.br)
				if err != nil {
					return
				}
				if !strings.EqualFold(m.get("Expect"), "100-continue") {
					_ = c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
					return
				}
				if c.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n") != nil {
					return
				}
				if err := readRequestBody(c.br, m); err != nil {
					return
				}
				if c.write("HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone") != nil {
					return
				}
			}
		})
		cfg := e2eConfig()
		cfg.Backends = setOf(t, be.Addr())
		s := startProxy(t, cfg)

		c := dialRaw(t, s.Addr())
		c.send("PUT /r HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
		expectStatus(t, c.resp("PUT"), 100)
		c.send("abc")
		m := c.resp("PUT")
		expectStatus(t, m, 103)
		if m.get("Link") != "</s.css>; rel=preload" {
			t.Errorf("103 Link %q", m.get("Link"))
		}
		m = c.resp("PUT")
		expectStatus(t, m, 201)
		if string(m.body) != "done" {
			t.Fatalf("final body %q", m.body)
		}

		// An HTTP/1.0 client gets no 1xx at all (RFC 9110 §15.2): the
		// first thing it reads is the final response.
		c10 := dialRaw(t, s.Addr())
		m = c10.roundTrip("PUT", "PUT /r HTTP/1.0\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
		expectStatus(t, m, 201)
		if string(m.body) != "done" {
			t.Fatalf("1.0 final body %q", m.body)
		}
		c10.expectEOF()
	})

	t.Run("1.0 client via demo backend", func(t *testing.T) {
		t.Parallel()
		s, _ := proxyToDemo(t, 1, e2eConfig())
		c := dialRaw(t, s.Addr())
		m := c.roundTrip("POST", "POST /echo HTTP/1.0\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
		expectStatus(t, m, 200)
		if string(m.body) != "hello" {
			t.Fatalf("body %q", m.body)
		}
	})
}

// upgradeBackend answers an upgrade request with 101 and then echoes what
// it reads, upper-casing nothing: a WebSocket-like tunnel. A request
// without Upgrade gets 400.
func upgradeBackend(t *testing.T, gotHead chan<- *msg) *scripted {
	return startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		if gotHead != nil {
			gotHead <- m
		}
		if !strings.EqualFold(m.get("Upgrade"), "websocket") {
			_ = c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n") != nil {
			return
		}
		if strings.Contains(m.line, "/server-closes") {
			_ = c.write("bye")
			return
		}
		// Echo until the client side closes, then close.
		_, _ = io.Copy(c.Conn, c.br)
	})
}

const upgradeReq = "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// TestE2EUpgradeTunnel switches protocols through PILB and exchanges raw
// bytes both ways; a close on one side closes the other.
func TestE2EUpgradeTunnel(t *testing.T) {
	t.Parallel()
	heads := make(chan *msg, 10)
	be := upgradeBackend(t, heads)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.BackendTimeout = time.Second // a tunnel is not a response: no timeout applies
	cfg.IdleTimeout = time.Second
	s := startProxy(t, cfg)

	t.Run("echo both ways, client closes", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		m := c.roundTrip("GET", upgradeReq)
		expectStatus(t, m, 101)
		if !strings.EqualFold(m.get("Upgrade"), "websocket") || !strings.EqualFold(m.get("Connection"), "upgrade") {
			t.Fatalf("101 says Upgrade %q Connection %q", m.get("Upgrade"), m.get("Connection"))
		}
		if m.get("Sec-WebSocket-Accept") != "abc" {
			t.Errorf("Sec-WebSocket-Accept %q", m.get("Sec-WebSocket-Accept"))
		}
		up := recvWithin(t, heads, 5*time.Second)
		if !strings.EqualFold(up.get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(up.get("Connection")), "upgrade") {
			t.Fatalf("upstream upgrade request lost its Upgrade/Connection:\n%s", up.head)
		}
		if up.get("Sec-WebSocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" {
			t.Errorf("Sec-WebSocket-Key %q", up.get("Sec-WebSocket-Key"))
		}

		c.send("ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c.r, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo %q, %v", buf, err)
		}
		// Quiet for longer than the backend and idle timeouts: the
		// tunnel must stay up.
		time.Sleep(1500 * time.Millisecond)
		// A megabyte both ways at once.
		big := randomBody(9, 1<<20)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(big)
			errc <- err
		}()
		got := make([]byte, len(big))
		if _, err := io.ReadFull(c.r, got); err != nil {
			t.Fatalf("tunnel echo: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, big) {
			t.Fatal("tunnel echo differs")
		}
		// The client ends its side; the backend sees EOF and closes; the
		// client then sees EOF.
		if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.expectEOF()
	})

	t.Run("bytes behind the upgrade request", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		c.send(upgradeReq + "early")
		recvWithin(t, heads, 5*time.Second)
		expectStatus(t, c.resp("GET"), 101)
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c.r, buf); err != nil || string(buf) != "early" {
			t.Fatalf("echo of early bytes %q, %v", buf, err)
		}
	})

	t.Run("backend closes", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		c.send(strings.Replace(upgradeReq, "/chat", "/server-closes", 1))
		recvWithin(t, heads, 5*time.Second)
		expectStatus(t, c.resp("GET"), 101)
		buf := make([]byte, 3)
		if _, err := io.ReadFull(c.r, buf); err != nil || string(buf) != "bye" {
			t.Fatalf("read %q, %v", buf, err)
		}
		c.expectEOF()
	})
}
