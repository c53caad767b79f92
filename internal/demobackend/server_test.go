package demobackend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "s1"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// client returns a net/http client that does not share connections with
// other tests.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, b
}

func checkCommon(t *testing.T, resp *http.Response, id string) {
	t.Helper()
	if got := resp.Header.Get("Server"); got != id {
		t.Errorf("Server = %q, want %q", got, id)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", got)
	}
}

func checkPattern(t *testing.T, body []byte, n int) {
	t.Helper()
	if len(body) != n {
		t.Fatalf("body length = %d, want %d", len(body), n)
	}
	for i, c := range body {
		if c != patternAlphabet[i%patternPeriod] {
			t.Fatalf("body[%d] = %q, want %q", i, c, patternAlphabet[i%patternPeriod])
		}
	}
}

func TestStartResolvesPort(t *testing.T) {
	s := start(t, Config{ID: "s7"})
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q (%v), want 127.0.0.1:<port>", s.Addr(), err)
	}
	if s.ID() != "s7" {
		t.Errorf("ID() = %q", s.ID())
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{Addr: "127.0.0.1:0"}); err != ErrNoID {
		t.Errorf("empty ID: err = %v, want ErrNoID", err)
	}
	s := start(t, Config{})
	if _, err := Start(Config{ID: "x", Addr: s.Addr()}); err == nil {
		t.Errorf("Start on a busy port succeeded")
	}
}

func TestRoot(t *testing.T) {
	s := start(t, Config{ID: "s2"})
	c := client(t)
	for _, path := range []string{"/", "/unknown/path?q=1"} {
		resp, body := get(t, c, "GET", "http://"+s.Addr()+path, nil)
		checkCommon(t, resp, "s2")
		if resp.StatusCode != 200 || string(body) != "hello from s2\n" {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, body)
		}
	}
	resp, body := get(t, c, "POST", "http://"+s.Addr()+"/", strings.NewReader("ignored body"))
	if resp.StatusCode != 200 || string(body) != "hello from s2\n" {
		t.Errorf("POST / = %d %q", resp.StatusCode, body)
	}
	if got := s.Requests(); got != 3 {
		t.Errorf("Requests() = %d, want 3", got)
	}
}

func TestCustomBody(t *testing.T) {
	s := start(t, Config{Body: []byte("0123456789ab"), Loops: 2})
	_, body := get(t, client(t), "GET", "http://"+s.Addr()+"/", nil)
	if string(body) != "0123456789ab" {
		t.Errorf("body = %q", body)
	}
}

func TestBytes(t *testing.T) {
	s := start(t, Config{})
	c := client(t)
	// 20 MB exceeds maxOutbound, so the response is streamed across wakes.
	for _, n := range []int{0, 1, 1000, 70000, 20_000_000} {
		resp, body := get(t, c, "GET", fmt.Sprintf("http://%s/bytes/%d", s.Addr(), n), nil)
		checkCommon(t, resp, "s1")
		if resp.StatusCode != 200 || resp.ContentLength != int64(n) {
			t.Errorf("/bytes/%d: status %d, length %d", n, resp.StatusCode, resp.ContentLength)
		}
		checkPattern(t, body, n)
	}
	for _, bad := range []string{"x", "", "-1", "67108865", "99999999999"} {
		resp, _ := get(t, c, "GET", "http://"+s.Addr()+"/bytes/"+bad, nil)
		if resp.StatusCode != 400 {
			t.Errorf("/bytes/%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestChunked(t *testing.T) {
	s := start(t, Config{ID: "s3"})
	c := client(t)
	for _, n := range []int{0, 5, 100_000, 6_000_000} {
		resp, body := get(t, c, "GET", fmt.Sprintf("http://%s/chunked/%d", s.Addr(), n), nil)
		checkCommon(t, resp, "s3")
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("/chunked/%d: Transfer-Encoding %v", n, resp.TransferEncoding)
		}
		checkPattern(t, body, n)
		if got := resp.Trailer.Get("X-Trailer"); got != "s3" {
			t.Errorf("/chunked/%d: trailer X-Trailer = %q", n, got)
		}
	}
}

func TestEcho(t *testing.T) {
	s := start(t, Config{})
	c := client(t)
	big := bytes.Repeat([]byte("echo!"), 300_000)
	for _, body := range [][]byte{nil, []byte("hello"), big} {
		resp, got := get(t, c, "POST", "http://"+s.Addr()+"/echo", bytes.NewReader(body))
		if resp.StatusCode != 200 || !bytes.Equal(got, body) {
			t.Errorf("echo of %d bytes: status %d, got %d bytes", len(body), resp.StatusCode, len(got))
		}
		// net/http sends a body of unknown length chunked.
		resp, got = get(t, c, "POST", "http://"+s.Addr()+"/echo", io.MultiReader(bytes.NewReader(body)))
		if resp.StatusCode != 200 || !bytes.Equal(got, body) || resp.ContentLength != int64(len(body)) {
			t.Errorf("chunked echo of %d bytes: status %d, got %d bytes, CL %d",
				len(body), resp.StatusCode, len(got), resp.ContentLength)
		}
	}
}

// rawConn is a raw TCP client for what net/http does not do: pipelining,
// HTTP/1.0, malformed requests.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, s *Server) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.nc, s); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) read(method string) (*http.Response, []byte) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// expectEOF asserts that the server closed the connection.
func (rc *rawConn) expectEOF() {
	rc.t.Helper()
	if b, err := rc.br.ReadByte(); err != io.EOF {
		rc.t.Errorf("after close: read %q, %v; want EOF", b, err)
	}
}

func TestPipelining(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	rc.send("GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\n" +
		"POST /status/201 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n12345")
	for i, want := range []struct {
		status int
		body   string
	}{{200, "ABC"}, {200, "abcdef"}, {201, ""}} {
		resp, body := rc.read("GET")
		if resp.StatusCode != want.status || string(body) != want.body {
			t.Errorf("response %d: %d %q, want %d %q", i, resp.StatusCode, body, want.status, want.body)
		}
	}
	// The connection is still usable after the pipeline.
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := rc.read("GET"); resp.StatusCode != 200 {
		t.Errorf("after pipeline: %d", resp.StatusCode)
	}
}

func TestRequestInPieces(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	for _, msg := range []string{
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nwx\r\n2\r\nyz\r\n0\r\nT: 1\r\n\r\n",
	} {
		// One byte per write and a pause: every prefix reaches OnTraffic.
		for i := range len(msg) {
			rc.send(msg[i : i+1])
			time.Sleep(200 * time.Microsecond)
		}
		if resp, body := rc.read("POST"); resp.StatusCode != 200 || string(body) != "wxyz" {
			t.Errorf("got %d %q", resp.StatusCode, body)
		}
	}
}

func TestHead(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	// A HEAD response has no body even when it announces one (RFC 9110
	// §9.3.2): the GET answer must follow the HEAD head directly.
	rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"HEAD /chunked/100 HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, _ := rc.read("HEAD")
	if resp.ContentLength != int64(len("hello from s1\n")) {
		t.Errorf("HEAD /: Content-Length %d", resp.ContentLength)
	}
	if resp, _ = rc.read("HEAD"); resp.ContentLength != 100 {
		t.Errorf("HEAD /bytes/100: Content-Length %d", resp.ContentLength)
	}
	rc.read("HEAD")
	if resp, body := rc.read("GET"); string(body) != "AB" {
		t.Errorf("GET after HEADs: %d %q", resp.StatusCode, body)
	}
}

func TestHTTP10(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	rc.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, _ := rc.read("GET")
	if resp.Header.Get("Connection") != "keep-alive" {
		t.Errorf("1.0 keep-alive: Connection %q", resp.Header.Get("Connection"))
	}
	rc.send("GET / HTTP/1.0\r\n\r\n")
	resp, body := rc.read("GET")
	if resp.StatusCode != 200 || string(body) != "hello from s1\n" || !resp.Close {
		t.Errorf("1.0: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	rc.expectEOF()
}

func TestClose(t *testing.T) {
	s := start(t, Config{})
	resp, _ := get(t, client(t), "GET", "http://"+s.Addr()+"/close", nil)
	if !resp.Close {
		t.Errorf("/close: no Connection: close")
	}
	rc := dial(t, s)
	rc.send("GET /close HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.read("GET")
	rc.expectEOF()
	// A request's own Connection: close, on a large body.
	rc = dial(t, s)
	rc.send("GET /bytes/9000000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if _, body := rc.read("GET"); len(body) != 9_000_000 {
		t.Errorf("close after large body: got %d bytes", len(body))
	}
	rc.expectEOF()
}

func TestStatus(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	for _, code := range []int{200, 204, 304, 404, 503} {
		rc.send(fmt.Sprintf("GET /status/%d HTTP/1.1\r\nHost: a\r\n\r\n", code))
		resp, body := rc.read("GET")
		if resp.StatusCode != code || len(body) != 0 {
			t.Errorf("/status/%d: %d, %d body bytes", code, resp.StatusCode, len(body))
		}
		_, hasCL := resp.Header["Content-Length"]
		if noBody := code == 204 || code == 304; hasCL == noBody {
			t.Errorf("/status/%d: Content-Length present = %v", code, hasCL)
		}
	}
	for _, bad := range []string{"100", "600", "abc"} {
		rc.send("GET /status/" + bad + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, _ := rc.read("GET"); resp.StatusCode != 400 {
			t.Errorf("/status/%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestParseErrors(t *testing.T) {
	s := start(t, Config{})
	for _, tc := range []struct {
		req    string
		status int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\n\r\n", 400}, // no Host
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 67108865\r\n\r\n", 413},
		{"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
	} {
		rc := dial(t, s)
		rc.send(tc.req)
		resp, _ := rc.read("GET")
		if resp.StatusCode != tc.status || !resp.Close || resp.Header.Get("Server") != "s1" {
			t.Errorf("%q: %d close=%v, want %d and close", tc.req, resp.StatusCode, resp.Close, tc.status)
		}
		rc.expectEOF()
	}
}

func TestExpectContinue(t *testing.T) {
	s := start(t, Config{})
	rc := dial(t, s)
	rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
	line, err := rc.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response: %q %v", line, err)
	}
	rc.br.ReadString('\n')
	rc.send("abc")
	if _, body := rc.read("POST"); string(body) != "abc" {
		t.Errorf("body %q", body)
	}
}

func TestStop(t *testing.T) {
	s, err := Start(Config{ID: "s1", Addr: "127.0.0.1:0", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	rc := dial(t, s)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.read("GET")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	rc.expectEOF()
	if nc, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		nc.Close()
		t.Errorf("dial after Stop succeeded")
	}
}
