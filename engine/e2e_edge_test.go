package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// Edge cases of the exchange: early answers, aborted transfers, deep
// pipelines against a small HighWater, changes to the backend set.

// TestE2EPipelineThenGarbage: the responses to the good requests of a
// pipeline are delivered before the 400 for the bad one that follows, and
// nothing after the bad one is served.
func TestE2EPipelineThenGarbage(t *testing.T) {
	t.Parallel()
	s, demos := proxyToDemo(t, 1, e2eConfig())
	c := dialRaw(t, s.Addr())
	c.send("GET /bytes/3 HTTP/1.1\r\nHost: e\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: 4\r\n\r\nabcd" +
		"GET /x y z HTTP/1.1\r\nHost: e\r\n\r\n" +
		"GET /bytes/5 HTTP/1.1\r\nHost: e\r\n\r\n")
	m := c.resp("GET")
	expectStatus(t, m, 200)
	if string(m.body) != "ABC" {
		t.Fatalf("first body %q", m.body)
	}
	m = c.resp("POST")
	expectStatus(t, m, 200)
	if string(m.body) != "abcd" {
		t.Fatalf("second body %q", m.body)
	}
	expectStatus(t, c.resp("GET"), 400)
	c.expectEOF()
	if got := demos[0].Requests(); got != 2 {
		t.Fatalf("backend answered %d requests, want 2", got)
	}
}

// TestE2EPipelineCloseInTheMiddle: a request saying Connection: close ends
// the connection after its response; the requests pipelined behind it are
// neither answered nor forwarded (RFC 9112 §9.6).
func TestE2EPipelineCloseInTheMiddle(t *testing.T) {
	t.Parallel()
	s, demos := proxyToDemo(t, 1, e2eConfig())
	c := dialRaw(t, s.Addr())
	c.send("GET /bytes/1 HTTP/1.1\r\nHost: e\r\n\r\n" +
		"GET /bytes/2 HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n" +
		"GET /bytes/3 HTTP/1.1\r\nHost: e\r\n\r\n")
	expectStatus(t, c.resp("GET"), 200)
	m := c.resp("GET")
	expectStatus(t, m, 200)
	if string(m.body) != "AB" || !strings.EqualFold(m.get("Connection"), "close") {
		t.Fatalf("second response: body %q, Connection %q", m.body, m.get("Connection"))
	}
	c.expectEOF()
	time.Sleep(50 * time.Millisecond)
	if got := demos[0].Requests(); got != 2 {
		t.Fatalf("backend answered %d requests, want 2", got)
	}
}

// TestE2EDeepPipelineSmallHighWater writes hundreds of pipelined requests
// at once through a proxy with a tiny HighWater, so that the client is
// paused and resumed many times with requests waiting in its input, and
// checks every response in order.
func TestE2EDeepPipelineSmallHighWater(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.HighWater = 4 << 10
	s, _ := proxyToDemo(t, 2, cfg)
	const n = 600
	var batch bytes.Buffer
	sizes := make([]int, n)
	for i := range n {
		sizes[i] = (i * 7919) % 20000
		if i%5 == 4 {
			body := fmt.Sprintf("echo-%d-%s", i, strings.Repeat("e", i%300))
			sizes[i] = -1
			fmt.Fprintf(&batch, "POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			continue
		}
		fmt.Fprintf(&batch, "GET /bytes/%d HTTP/1.1\r\nHost: d\r\n\r\n", sizes[i])
	}
	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(deadlineIn(30))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(batch.Bytes())
		errc <- err
	}()
	for i := range n {
		method := "GET"
		if sizes[i] < 0 {
			method = "POST"
		}
		m, err := readResponse(c.r, method)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		expectStatus(t, m, 200)
		if sizes[i] < 0 {
			if want := fmt.Sprintf("echo-%d-%s", i, strings.Repeat("e", i%300)); string(m.body) != want {
				t.Fatalf("response %d: echo %.40q, want %.40q", i, m.body, want)
			}
			continue
		}
		if len(m.body) != sizes[i] || checkPattern(m.body, 0) != nil {
			t.Fatalf("response %d: %d body bytes, want the pattern of %d", i, len(m.body), sizes[i])
		}
	}
	if err := recvWithin(t, errc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Close()
	shutdownClean(t, s)
}

// TestE2ESlowRequestBody: a Content-Length body that trickles in after
// the head, in pieces, is forwarded as it comes and echoed whole.
func TestE2ESlowRequestBody(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 1, e2eConfig())
	c := dialRaw(t, s.Addr())
	body := strings.Repeat("slow body ", 20)
	c.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n", len(body)))
	for i := 0; i < len(body); i += 40 {
		time.Sleep(20 * time.Millisecond)
		c.send(body[i:min(i+40, len(body))])
	}
	m := c.resp("POST")
	expectStatus(t, m, 200)
	if string(m.body) != body {
		t.Fatalf("echo %q", m.body)
	}
	c.expectOpen()
}

// TestE2EEarlyResponse: a backend that answers before reading the request
// body (a 413 for an upload it will not take) gets its answer to the
// client, which is still sending: PILB closes lingering, so the client
// reads the response instead of a reset. A response that comes before the
// end of the request body must say whether the connection goes on (RFC
// 9110 §10.1.1): if it does not say close, the connection must still work
// once the client has sent its whole body.
func TestE2EEarlyResponse(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		m, err := readHead(c.br)
		if err != nil {
			return
		}
		if strings.HasPrefix(m.line, "GET ") {
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return
		}
		if c.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n") != nil {
			return
		}
		// Drain what comes, so that the close is a FIN, not a reset.
		_, _ = io.Copy(io.Discard, c.br)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	const size = 8 << 20
	werr := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(c.Conn, "PUT /big HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n", size)
		chunk := make([]byte, 64<<10)
		for off := 0; off < size && err == nil; off += len(chunk) {
			_, err = c.Write(chunk)
		}
		werr <- err
	}()
	m := c.resp("PUT")
	expectStatus(t, m, 413)
	if string(m.body) != "too big\n" {
		t.Fatalf("body %q", m.body)
	}
	if strings.EqualFold(m.get("Connection"), "close") {
		c.expectEOF()
		return
	}
	if err := recvWithin(t, werr, 10*time.Second); err != nil {
		t.Fatalf("413 before the end of the body did not say Connection: close, yet the connection broke: %v", err)
	}
	c.send("GET / HTTP/1.1\r\nHost: e\r\n\r\n")
	if _, err := readResponse(c.r, "GET"); err != nil {
		t.Fatalf("413 before the end of the body did not say Connection: close, yet the connection is gone: %v", err)
	}
}

// TestE2EFinalResponseWithoutContinue: a backend may answer an
// Expect: 100-continue request with a final status and no 100 (RFC 9110
// §10.1.1); the client, which waits for the 100, gets that answer. The
// answer must say whether the connection goes on: if it does not say
// close, the client may send the announced body and then another request.
func TestE2EFinalResponseWithoutContinue(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		m, err := readHead(c.br)
		if err != nil {
			return
		}
		if strings.HasPrefix(m.line, "GET ") {
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return
		}
		_ = c.write("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_, _ = io.Copy(io.Discard, c.br)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("POST /upload HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
	m := c.resp("POST")
	expectStatus(t, m, 401)
	if m.get("WWW-Authenticate") != "Basic" {
		t.Errorf("WWW-Authenticate %q", m.get("WWW-Authenticate"))
	}
	if strings.EqualFold(m.get("Connection"), "close") {
		c.expectEOF()
		return
	}
	c.send(strings.Repeat("b", 1000) + "GET / HTTP/1.1\r\nHost: e\r\n\r\n")
	m, err := readResponse(c.r, "GET")
	if err != nil {
		t.Fatalf("401 without Connection: close, yet after the announced body the connection is gone: %v", err)
	}
	expectStatus(t, m, 200)
}

// TestE2EClientAbortsDownload: a client that closes in the middle of a
// large response gets its backend connection closed too, and the proxy
// goes on serving.
func TestE2EClientAbortsDownload(t *testing.T) {
	t.Parallel()
	var writeErr atomic.Bool
	be := startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		if strings.Contains(m.line, "/small") {
			_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall")
			return
		}
		if c.write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n") != nil {
			return
		}
		chunk := make([]byte, 64<<10)
		for range 1 << 14 { // 1 GiB at most; the close must come long before
			if _, err := c.Write(chunk); err != nil {
				writeErr.Store(true)
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("GET /huge HTTP/1.1\r\nHost: e\r\n\r\n")
	if _, err := readHead(c.r); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, c.r, 1<<20); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !eventually(5*time.Second, writeErr.Load) {
		t.Fatal("backend still sending a response nobody reads")
	}
	c2 := dialRaw(t, s.Addr())
	m := c2.roundTrip("GET", "GET /small HTTP/1.1\r\nHost: e\r\n\r\n")
	if m.status() != 200 || string(m.body) != "small" {
		t.Fatalf("next client: %q %q", m.line, m.body)
	}
}

// TestE2EClientAbortsUpload: a client that closes in the middle of a
// request body gets its backend connection closed, and the proxy goes on
// serving.
func TestE2EClientAbortsUpload(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		if _, err := c.readRequest(); err != nil {
			// A body cut short: PILB closed the connection.
			c.s.closed.Add(1)
			return
		}
		_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	c.send("PUT /x HTTP/1.1\r\nHost: e\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("u", 100000))
	if !eventually(5*time.Second, func() bool { return be.heads.Load() == 1 }) {
		t.Fatal("request never reached the backend")
	}
	c.Close()
	if !eventually(5*time.Second, func() bool { return be.closed.Load() == 1 }) {
		t.Fatal("backend connection of an aborted upload not closed")
	}
	c2 := dialRaw(t, s.Addr())
	expectStatus(t, c2.roundTrip("PUT", "PUT /y HTTP/1.1\r\nHost: e\r\nContent-Length: 1\r\n\r\nz"), 200)
}

// TestE2EBackendResponseLimits: a response head PILB cannot take (too
// large, too many fields) is a 502, not a crash or a truncated head.
func TestE2EBackendResponseLimits(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		var head strings.Builder
		head.WriteString("HTTP/1.1 200 OK\r\n")
		switch {
		case strings.Contains(m.line, "/large"):
			head.WriteString("X-Large: " + strings.Repeat("l", 64<<10) + "\r\n")
		case strings.Contains(m.line, "/many"):
			for i := range 150 {
				fmt.Fprintf(&head, "X-F%d: %d\r\n", i, i)
			}
		default: // just inside the limits
			for i := range 90 {
				fmt.Fprintf(&head, "X-F%d: %d\r\n", i, i)
			}
		}
		head.WriteString("Content-Length: 2\r\n\r\nok")
		_ = c.write(head.String())
		_, _ = io.Copy(io.Discard, c.br)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/large", 502}, {"/many", 502}, {"/fine", 200}} {
		c := dialRaw(t, s.Addr())
		m := c.roundTrip("GET", "GET "+tc.path+" HTTP/1.1\r\nHost: e\r\n\r\n")
		expectStatus(t, m, tc.status)
		if tc.status == 200 && (len(m.all("X-F89")) != 1 || string(m.body) != "ok") {
			t.Fatalf("%s: fields or body lost:\n%s", tc.path, m.head)
		}
	}
}

// TestE2EStatusLineForms: the status code and reason phrase reach the
// client as the backend sent them, including an empty reason, and a 1.0
// backend's response is answered as HTTP/1.1.
func TestE2EStatusLineForms(t *testing.T) {
	t.Parallel()
	lines := map[string]string{
		"/noreason":  "HTTP/1.1 200\r\n",
		"/emptyrsn":  "HTTP/1.1 404 \r\n",
		"/custom":    "HTTP/1.1 299 Custom Reason Here\r\n",
		"/obs-text":  "HTTP/1.1 200 D\xe9j\xe0 vu\r\n",
		"/http10":    "HTTP/1.0 200 OK\r\n",
		"/teapot":    "HTTP/1.1 418 I'm a teapot\r\n",
		"/withspace": "HTTP/1.1 503 Service  Unavailable\r\n",
	}
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if c.write(lines[strings.Fields(m.line)[1]]+"Content-Length: 2\r\nConnection: keep-alive\r\n\r\nok") != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for path, line := range lines {
		m := c.roundTrip("GET", "GET "+path+" HTTP/1.1\r\nHost: e\r\n\r\n")
		got := strings.TrimSuffix(m.line, " ")
		want := "HTTP/1.1" + strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(line, "HTTP/1.1"), "HTTP/1.0"), "\r\n")
		if got != strings.TrimSuffix(want, " ") {
			t.Errorf("%s: status line %q, want %q", path, m.line, want)
		}
		if string(m.body) != "ok" {
			t.Fatalf("%s: body %q", path, m.body)
		}
	}
}

// TestE2EBackendSetChanges: backends added to and removed from the set
// while the engine runs take and stop taking requests; a draining or
// unhealthy backend gets none.
func TestE2EBackendSetChanges(t *testing.T) {
	t.Parallel()
	demos := startDemo(t, 3)
	set := &pool.Set{}
	add := func(i int) *pool.Backend {
		b := &pool.Backend{ID: demos[i].ID(), Addr: demos[i].Addr()}
		if err := set.Add(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b1 := add(0)
	cfg := e2eConfig()
	cfg.Backends = set
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	servers := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: e\r\n\r\n")
			expectStatus(t, m, 200)
			got[m.get("Server")]++
		}
		return got
	}
	if got := servers(4); got["s1"] != 4 {
		t.Fatalf("one backend: %v", got)
	}
	add(1)
	add(2)
	if got := servers(9); got["s1"] != 3 || got["s2"] != 3 || got["s3"] != 3 {
		t.Fatalf("three backends: %v", got)
	}
	if _, ok := set.Remove("s2"); !ok {
		t.Fatal("remove s2")
	}
	if got := servers(6); got["s2"] != 0 || got["s1"] != 3 || got["s3"] != 3 {
		t.Fatalf("after removing s2: %v", got)
	}
	b1.SetDraining(true)
	if got := servers(4); got["s3"] != 4 {
		t.Fatalf("s1 draining: %v", got)
	}
	b1.SetDraining(false)
	b3, _ := set.Get("s3")
	b3.SetHealthy(false)
	if got := servers(4); got["s1"] != 4 {
		t.Fatalf("s3 unhealthy: %v", got)
	}
	b3.SetHealthy(true)
	// Everything out: 503.
	set.Remove("s1")
	set.Remove("s3")
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: e\r\n\r\n"), 503)
}

// TestE2EMixedLoadSmallHighWater is the mixed load at a smaller scale
// through a proxy whose HighWater is tiny, so that nearly every transfer
// pauses and resumes the fast side.
func TestE2EMixedLoadSmallHighWater(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.HighWater = 8 << 10
	s, _ := proxyToDemo(t, 2, cfg)
	const clients, perClient = 6, 20
	errs := make(chan error, clients)
	for id := range clients {
		go func() {
			errs <- func() error {
				nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
				if err != nil {
					return err
				}
				defer nc.Close()
				_ = nc.SetDeadline(deadlineIn(30))
				c := &rawConn{t: t, Conn: nc, r: bufio.NewReader(nc)}
				for i := range perClient {
					n := (id*7717 + i*104729) % (200 << 10)
					body := bytes.Repeat([]byte{byte('a' + i%26)}, n/4)
					req := fmt.Sprintf("GET /bytes/%d HTTP/1.1\r\nHost: m\r\n\r\nPOST /echo HTTP/1.1\r\nHost: m\r\nContent-Length: %d\r\n\r\n%s", n, len(body), body)
					werr := make(chan error, 1)
					go func() {
						_, err := io.WriteString(nc, req)
						werr <- err
					}()
					m, err := readResponse(c.r, "GET")
					if err != nil {
						return fmt.Errorf("client %d request %d: %v", id, i, err)
					}
					if len(m.body) != n || checkPattern(m.body, 0) != nil {
						return fmt.Errorf("client %d request %d: %d body bytes, want the pattern of %d", id, i, len(m.body), n)
					}
					m, err = readResponse(c.r, "POST")
					if err != nil {
						return fmt.Errorf("client %d echo %d: %v", id, i, err)
					}
					if !bytes.Equal(m.body, body) {
						return fmt.Errorf("client %d echo %d: %d bytes back of %d", id, i, len(m.body), len(body))
					}
					if err := <-werr; err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := recvWithin(t, errs, 60*time.Second); err != nil {
			t.Error(err)
		}
	}
	if !t.Failed() {
		shutdownClean(t, s)
	}
}

// TestE2EUpgradeRefused: a backend that does not switch protocols answers
// the upgrade request like any other (RFC 9110 §7.8), and the connection
// goes on as HTTP/1.1.
func TestE2EUpgradeRefused(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 1, e2eConfig())
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET /bytes/4 HTTP/1.1\r\nHost: e\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	expectStatus(t, m, 200)
	if string(m.body) != "ABCD" {
		t.Fatalf("body %q", m.body)
	}
	if strings.Contains(strings.ToLower(m.get("Connection")), "upgrade") || m.has("Upgrade") {
		t.Errorf("a refused upgrade answered with Connection %q Upgrade %q", m.get("Connection"), m.get("Upgrade"))
	}
	c.expectOpen()
}

// TestE2EConnectRefusedRetriesPOST: a connect failure means nothing reached
// the backend, so even a POST is sent again, to the other backend.
func TestE2EConnectRefusedRetriesPOST(t *testing.T) {
	t.Parallel()
	demos := startDemo(t, 1)
	for _, size := range []int{10, 1000, 60 << 10, 200 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			set := &pool.Set{}
			// The refusing backend first: the first pick goes to it.
			for _, b := range []*pool.Backend{{ID: "bad", Addr: closedAddr(t)}, {ID: "s1", Addr: demos[0].Addr()}} {
				if err := set.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			cfg := e2eConfig()
			cfg.Backends = set
			s := startProxy(t, cfg)
			c := dialRaw(t, s.Addr())
			body := randomBody(uint64(size), size)
			m := c.roundTrip("POST", fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n%s", size, body))
			expectStatus(t, m, 200)
			if !bytes.Equal(m.body, body) {
				t.Fatalf("echo of %d bytes came back as %d different bytes", size, len(m.body))
			}
		})
	}
}

// TestE2ESlowClientBodyIsNotBackendTimeout: BackendTimeout is the time a
// backend has to answer once the request is sent; a client that pauses in
// the middle of its body is not the backend's fault, and does not get 504.
func TestE2ESlowClientBodyIsNotBackendTimeout(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.BackendTimeout = 300 * time.Millisecond
	s, _ := proxyToDemo(t, 1, cfg)
	c := dialRaw(t, s.Addr())
	c.send("POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: 10\r\n\r\nhello")
	time.Sleep(800 * time.Millisecond)
	c.send("world")
	m := c.resp("POST")
	expectStatus(t, m, 200)
	if string(m.body) != "helloworld" {
		t.Fatalf("body %q", m.body)
	}
}

// TestE2EHeaderTimeoutOnKeepAlive: the second request head on a
// keep-alive connection has HeaderTimeout too, from its first byte.
func TestE2EHeaderTimeoutOnKeepAlive(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.HeaderTimeout = time.Second
	cfg.IdleTimeout = 30 * time.Second
	s, _ := proxyToDemo(t, 1, cfg)
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: e\r\n\r\n"), 200)
	c.send("GET / HTTP/1.1\r\nHo")
	m := c.resp("GET")
	expectStatus(t, m, 408)
	c.expectEOF()
}

// TestE2EStalledBackendDuringUpload: a backend that stops reading in the
// middle of a large upload and never answers. PILB pushes back on the
// client (it stops reading it), then gives up after BackendTimeout: the
// client gets a 504 or a close, never a hang, and the loop goes on
// serving others. A stuck event loop would also stop Shutdown, so the
// scenario runs in a child process that the test can kill.
func TestE2EStalledBackendDuringUpload(t *testing.T) {
	if os.Getenv(childEnv) == t.Name() {
		stalledUploadScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 15*time.Second)
}

func stalledUploadScenario(t *testing.T) {
	stalled := startScripted(t, func(c *bconn) {
		if _, err := readHead(c.br); err != nil {
			return
		}
		_, _ = c.br.Peek(1)
		// Neither reads nor answers, for far longer than BackendTimeout.
		time.Sleep(3 * time.Second)
	})
	demos := startDemo(t, 1)
	cfg := e2eConfig()
	cfg.Loops = 1 // the upload and the next client share the loop
	cfg.Backends = setOf(t, stalled.Addr(), demos[0].Addr())
	cfg.BackendTimeout = 500 * time.Millisecond
	cfg.HighWater = 64 << 10
	s := startProxy(t, cfg)

	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(deadlineIn(5))
	go func() {
		const size = 256 << 20
		_, err := fmt.Fprintf(c.Conn, "PUT /big HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n", size)
		chunk := make([]byte, 64<<10)
		for off := 0; off < size && err == nil; off += len(chunk) {
			_, err = c.Write(chunk)
		}
	}()
	m, err := readResponse(c.r, "PUT")
	switch {
	case err == nil:
		expectStatus(t, m, 504)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("client neither answered nor closed long after BackendTimeout")
		}
	}

	c2 := dialRaw(t, s.Addr())
	_ = c2.SetDeadline(deadlineIn(5))
	m, err = readResponseAfter(c2, "GET / HTTP/1.1\r\nHost: e\r\n\r\n")
	if err != nil {
		t.Fatalf("next client on the same loop: %v", err)
	}
	expectStatus(t, m, 200)
}

// readResponseAfter sends req and reads the response, returning the error
// instead of failing the test.
func readResponseAfter(c *rawConn, req string) (*msg, error) {
	if _, err := io.WriteString(c.Conn, req); err != nil {
		return nil, err
	}
	method, _, _ := strings.Cut(req, " ")
	return readResponse(c.r, method)
}

// TestE2EEarlyResponseWhileClientPaused: the backend stops reading an
// upload long enough for PILB to stop reading the client (flow control),
// then answers 413 and drains the rest. The answer must reach the client
// although PILB was not reading it at that moment.
func TestE2EEarlyResponseWhileClientPaused(t *testing.T) {
	if os.Getenv(childEnv) == t.Name() {
		earlyResponseWhilePausedScenario(t)
		return
	}
	t.Parallel()
	runIsolated(t, 15*time.Second)
}

func earlyResponseWhilePausedScenario(t *testing.T) {
	be := startScripted(t, func(c *bconn) {
		if _, err := readHead(c.br); err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond) // long enough for the client to be paused
		if c.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n") != nil {
			return
		}
		// The answer arrives while the client is paused, and stays the
		// only news for a while: nothing drains to resume the client.
		time.Sleep(500 * time.Millisecond)
		_, _ = io.Copy(io.Discard, c.br)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.HighWater = 64 << 10
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(deadlineIn(5))
	go func() {
		const size = 64 << 20
		_, err := fmt.Fprintf(c.Conn, "PUT /big HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n", size)
		chunk := make([]byte, 64<<10)
		for off := 0; off < size && err == nil; off += len(chunk) {
			_, err = c.Write(chunk)
		}
	}()
	m := c.resp("PUT")
	expectStatus(t, m, 413)
	if string(m.body) != "too big\n" {
		t.Fatalf("body %q", m.body)
	}
}
