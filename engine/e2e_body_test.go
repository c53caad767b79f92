package engine

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Request and response bodies: every framing of RFC 9112 §6 and §7, both
// directions.

// randomBody returns n reproducible random bytes.
func randomBody(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// chunkedEncode frames body as a chunked body of chunks of random sizes up
// to maxChunk, some with chunk extensions (RFC 9112 §7.1.1), and the given
// trailer section ("" for none; each field line with its CRLF).
func chunkedEncode(rng *rand.Rand, body []byte, maxChunk int, trailer string) []byte {
	var out bytes.Buffer
	exts := []string{"", "", ";a=b", `;name="quoted;value"`, ";x", " ;sp=1"}
	for i := 0; len(body) > 0; i++ {
		n := min(len(body), 1+rng.IntN(maxChunk))
		fmt.Fprintf(&out, "%x%s\r\n", n, exts[i%len(exts)])
		out.Write(body[:n])
		out.WriteString("\r\n")
		body = body[n:]
	}
	out.WriteString("0;last=1\r\n")
	out.WriteString(trailer)
	out.WriteString("\r\n")
	return out.Bytes()
}

// TestE2ERequestBodyContentLength echoes Content-Length bodies of sizes
// around the retained-body limit and of several MiB through the demo
// backend's /echo.
func TestE2ERequestBodyContentLength(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 2, e2eConfig())
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i, n := range []int{1, 1000, 16 << 10, maxRetainedBody - 1, maxRetainedBody, maxRetainedBody + 1, 300 << 10, 5 << 20} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			want := randomBody(uint64(i), n)
			resp, err := client.Post("http://"+s.Addr()+"/echo", "application/octet-stream", bytes.NewReader(want))
			if err != nil {
				t.Fatal(err)
			}
			got := body(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got != string(want) {
				t.Fatalf("echo of %d bytes came back as %d different bytes", n, len(got))
			}
		})
	}
}

// TestE2ERequestBodyChunked echoes chunked bodies with many chunks, chunk
// extensions and a trailer section, twice on one connection.
func TestE2ERequestBodyChunked(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 2, e2eConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	for i, tc := range []struct {
		size, maxChunk int
	}{
		{1, 1},
		{3000, 10},        // hundreds of tiny chunks
		{200 << 10, 9000}, // past the retained limit
		{2 << 20, 70000},  // past HighWater
	} {
		t.Run(fmt.Sprintf("%d bytes in chunks up to %d", tc.size, tc.maxChunk), func(t *testing.T) {
			want := randomBody(uint64(100+i), tc.size)
			enc := chunkedEncode(rng, want, tc.maxChunk, "X-Checksum: abc\r\nX-Other: 1\r\n")
			c := dialRaw(t, s.Addr())
			for round := range 2 {
				head := "POST /echo HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
				errc := make(chan error, 1)
				go func() {
					_, err := c.Write(append([]byte(head), enc...))
					errc <- err
				}()
				m := c.resp("POST")
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				expectStatus(t, m, 200)
				if !bytes.Equal(m.body, want) {
					t.Fatalf("round %d: echo of %d bytes came back as %d different bytes", round, len(want), len(m.body))
				}
			}
		})
	}
}

// TestE2EChunkedUploadUpstream checks that a chunked request body reaches
// the backend chunked, with one Transfer-Encoding: chunked and no
// Content-Length, and decodes to what the client sent.
func TestE2EChunkedUploadUpstream(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	want := randomBody(7, 100<<10)
	enc := chunkedEncode(rng, want, 5000, "X-Trailer-Field: t\r\n")
	c := dialRaw(t, s.Addr())
	c.send("POST /up HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n" + string(enc))
	expectStatus(t, c.resp("POST"), 200)
	reqs := be.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests", len(reqs))
	}
	up := reqs[0]
	if got := up.all("Transfer-Encoding"); len(got) != 1 || !strings.EqualFold(got[0], "chunked") {
		t.Errorf("upstream Transfer-Encoding %q, want one chunked", got)
	}
	if up.has("Content-Length") {
		t.Errorf("upstream Content-Length %q beside chunked", up.get("Content-Length"))
	}
	if !up.chunked || !bytes.Equal(up.body, want) {
		t.Errorf("upstream body: chunked %v, %d bytes, equal %v", up.chunked, len(up.body), bytes.Equal(up.body, want))
	}
}

// TestE2EResponseContentLength downloads /bytes/N of sizes around the
// inline limit over one keep-alive connection.
func TestE2EResponseContentLength(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 2, e2eConfig())
	c := dialRaw(t, s.Addr())
	for _, n := range []int{1, 100, inlineBody - 1, inlineBody, inlineBody + 1, 100000, 1<<20 + 3} {
		m := c.roundTrip("GET", fmt.Sprintf("GET /bytes/%d HTTP/1.1\r\nHost: b\r\n\r\n", n))
		expectStatus(t, m, 200)
		if m.get("Content-Length") != strconv.Itoa(n) || len(m.body) != n {
			t.Fatalf("/bytes/%d: Content-Length %q, %d body bytes", n, m.get("Content-Length"), len(m.body))
		}
		if err := checkPattern(m.body, 0); err != nil {
			t.Fatalf("/bytes/%d: %v", n, err)
		}
	}
}

// TestE2EEmptyContentLengthResponse checks responses with
// "Content-Length: 0": the response is complete at the end of its head
// (RFC 9112 §6.3 rule 6), so the connection goes on with the next request
// at once, pipelined or not.
func TestE2EEmptyContentLengthResponse(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig()
	cfg.BackendTimeout = 5e9
	s, _ := proxyToDemo(t, 1, cfg)
	for _, tc := range []struct {
		name, method, req string
		status            int
	}{
		{"/bytes/0", "GET", "GET /bytes/0 HTTP/1.1\r\nHost: b\r\n\r\n", 200},
		{"/status/404", "GET", "GET /status/404 HTTP/1.1\r\nHost: b\r\n\r\n", 404},
		{"empty echo", "POST", "POST /echo HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n", 200},
	} {
		t.Run(tc.name+" then another request", func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, s.Addr())
			_ = c.SetDeadline(deadlineIn(1))
			m := c.roundTrip(tc.method, tc.req)
			expectStatus(t, m, tc.status)
			if m.get("Content-Length") != "0" || len(m.body) != 0 {
				t.Fatalf("Content-Length %q, body %q", m.get("Content-Length"), m.body)
			}
			c.expectOpen()
		})
		t.Run(tc.name+" pipelined", func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, s.Addr())
			_ = c.SetDeadline(deadlineIn(1))
			c.send(tc.req + tc.req + "GET /bytes/3 HTTP/1.1\r\nHost: b\r\n\r\n")
			expectStatus(t, c.resp(tc.method), tc.status)
			expectStatus(t, c.resp(tc.method), tc.status)
			m := c.resp("GET")
			expectStatus(t, m, 200)
			if string(m.body) != "ABC" {
				t.Fatalf("third response body %q", m.body)
			}
		})
	}
}

// TestE2EEmptyRequestBody checks a request with "Content-Length: 0": its
// body is complete at the end of the head (RFC 9112 §6.3 rule 6), so the
// connection stays open for the next request. A close here would also
// come unannounced: the response does not say Connection: close.
func TestE2EEmptyRequestBody(t *testing.T) {
	t.Parallel()
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(deadlineIn(2))
	for _, method := range []string{"POST", "PUT"} {
		m := c.roundTrip(method, method+" /x HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n")
		expectStatus(t, m, 200)
		if strings.EqualFold(m.get("Connection"), "close") {
			t.Fatalf("%s with an empty body: response says Connection: close", method)
		}
		c.expectOpen()
	}
	for _, r := range be.requests() {
		if r.line != "GET / HTTP/1.1" && r.get("Content-Length") != "0" {
			t.Errorf("%q went upstream with Content-Length %q", r.line, r.get("Content-Length"))
		}
	}
}

// TestE2EResponseChunkedTrailer checks that an HTTP/1.1 client gets a
// chunked response chunked, with its Trailer field and trailer section, as
// a raw client and through net/http.
func TestE2EResponseChunkedTrailer(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 1, e2eConfig())

	t.Run("raw", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		for _, n := range []int{1, 1000, 300000} {
			m := c.roundTrip("GET", fmt.Sprintf("GET /chunked/%d HTTP/1.1\r\nHost: b\r\n\r\n", n))
			expectStatus(t, m, 200)
			if got := m.all("Transfer-Encoding"); len(got) != 1 || got[0] != "chunked" {
				t.Fatalf("/chunked/%d: Transfer-Encoding %q", n, got)
			}
			if m.has("Content-Length") {
				t.Fatalf("/chunked/%d: Content-Length %q beside chunked", n, m.get("Content-Length"))
			}
			if m.get("Trailer") != "X-Trailer" {
				t.Errorf("/chunked/%d: Trailer field %q, want X-Trailer", n, m.get("Trailer"))
			}
			if len(m.body) != n {
				t.Fatalf("/chunked/%d: %d body bytes", n, len(m.body))
			}
			if err := checkPattern(m.body, 0); err != nil {
				t.Fatal(err)
			}
			if got := m.trailerValue("X-Trailer"); got != "s1" {
				t.Fatalf("/chunked/%d: trailer X-Trailer %q, want s1 (trailer %q)", n, got, m.trailer)
			}
		}
	})

	t.Run("net/http", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + s.Addr() + "/chunked/5000")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
			t.Errorf("TransferEncoding %q, ContentLength %d", resp.TransferEncoding, resp.ContentLength)
		}
		if len(b) != 5000 || checkPattern(b, 0) != nil {
			t.Errorf("body of %d bytes", len(b))
		}
		if got := resp.Trailer.Get("X-Trailer"); got != "s1" {
			t.Errorf("trailer X-Trailer %q, want s1", got)
		}
	})
}

// TestE2EResponseUntilClose checks a response whose body ends when the
// backend closes (RFC 9112 §6.3 rule 8): the client gets all of it, then
// the connection closes, since nothing else could frame it for the client.
func TestE2EResponseUntilClose(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat("until-close ", 10000) // 120 KB
	be := startScripted(t, func(c *bconn) {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		version := "HTTP/1.1"
		if strings.Contains(m.line, "/v10") {
			version = "HTTP/1.0"
		}
		_ = c.write(version + " 200 OK\r\nContent-Type: text/plain\r\nX-Version: " + version + "\r\n\r\n" + payload)
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	for _, tc := range []struct{ path, via string }{{"/v11", "1.1 pilb"}, {"/v10", "1.0 pilb"}} {
		t.Run(tc.path, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			m := c.roundTrip("GET", "GET "+tc.path+" HTTP/1.1\r\nHost: b\r\n\r\n")
			expectStatus(t, m, 200)
			if m.has("Content-Length") || m.has("Transfer-Encoding") {
				t.Errorf("framing fields appeared: CL %q TE %q", m.get("Content-Length"), m.get("Transfer-Encoding"))
			}
			if !strings.EqualFold(m.get("Connection"), "close") {
				t.Errorf("Connection %q, want close", m.get("Connection"))
			}
			if m.get("Via") != tc.via {
				t.Errorf("Via %q, want %q", m.get("Via"), tc.via)
			}
			if string(m.body) != payload {
				t.Fatalf("body of %d bytes, want %d", len(m.body), len(payload))
			}
		})
	}
}

// TestE2EResponseNoBody checks the responses without a body (RFC 9112 §6.3
// rule 1): to HEAD though the backend sends Content-Length, 204, and 304
// with a Content-Length describing the selected representation. Nothing
// of a body may be sent, and the connection goes on.
func TestE2EResponseNoBody(t *testing.T) {
	t.Parallel()
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			var resp string
			switch {
			case strings.HasPrefix(m.line, "HEAD "):
				resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Head: 1\r\n\r\n"
			case strings.Contains(m.line, "/204"):
				resp = "HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n"
			case strings.Contains(m.line, "/304"):
				resp = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 100\r\n\r\n"
			default:
				resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
			}
			if c.write(resp) != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	for _, tc := range []struct {
		method, path string
		status       int
		field        [2]string
	}{
		{"HEAD", "/", 200, [2]string{"Content-Length", "5"}},
		{"GET", "/204", 204, [2]string{"X-Empty", "1"}},
		{"GET", "/304", 304, [2]string{"ETag", `"v1"`}},
		{"HEAD", "/", 200, [2]string{"X-Head", "1"}},
	} {
		m := c.roundTrip(tc.method, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: b\r\nIf-None-Match: \"v1\"\r\n\r\n")
		expectStatus(t, m, tc.status)
		if m.get(tc.field[0]) != tc.field[1] {
			t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, tc.field[0], m.get(tc.field[0]), tc.field[1])
		}
		if m.has("Transfer-Encoding") {
			t.Errorf("%s %s: Transfer-Encoding %q on a response without body", tc.method, tc.path, m.get("Transfer-Encoding"))
		}
		// The next response must start right here: a stray body byte
		// would break its status line.
		m = c.roundTrip("GET", "GET /next HTTP/1.1\r\nHost: b\r\n\r\n")
		expectStatus(t, m, 200)
		if string(m.body) != "hello" {
			t.Fatalf("after %s %s: next body %q", tc.method, tc.path, m.body)
		}
	}

	// The demo backend's HEAD, 204 and 304 the same way.
	s2, _ := proxyToDemo(t, 1, e2eConfig())
	c2 := dialRaw(t, s2.Addr())
	for _, tc := range []struct {
		method, path string
		status       int
	}{{"HEAD", "/bytes/100", 200}, {"GET", "/status/204", 204}, {"GET", "/status/304", 304}, {"HEAD", "/chunked/100", 200}} {
		m := c2.roundTrip(tc.method, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: b\r\n\r\n")
		expectStatus(t, m, tc.status)
		if tc.path == "/bytes/100" && m.get("Content-Length") != "100" {
			t.Errorf("HEAD /bytes/100: Content-Length %q", m.get("Content-Length"))
		}
		m = c2.roundTrip("GET", "GET /bytes/5 HTTP/1.1\r\nHost: b\r\n\r\n")
		expectStatus(t, m, 200)
		if string(m.body) != "ABCDE" {
			t.Fatalf("after %s %s: next body %q", tc.method, tc.path, m.body)
		}
	}
}

// TestE2EResponseDechunkFor10 checks that an HTTP/1.0 client, which knows
// no chunked coding, gets a chunked response without its framing, without
// Transfer-Encoding or Trailer, ended by the close (RFC 9112 §6.1, §7.1).
func TestE2EResponseDechunkFor10(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 1, e2eConfig())
	for _, tc := range []struct{ name, extra string }{{"1.0", ""}, {"1.0 keep-alive", "Connection: keep-alive\r\n"}} {
		for _, n := range []int{1, 1000, 300000} {
			t.Run(fmt.Sprintf("%s %d", tc.name, n), func(t *testing.T) {
				c := dialRaw(t, s.Addr())
				m := c.roundTrip("GET", fmt.Sprintf("GET /chunked/%d HTTP/1.0\r\nHost: b\r\n%s\r\n", n, tc.extra))
				expectStatus(t, m, 200)
				for _, name := range []string{"Transfer-Encoding", "Trailer", "Content-Length"} {
					if m.has(name) {
						t.Errorf("%s: %q sent to an HTTP/1.0 client", name, m.get(name))
					}
				}
				if strings.EqualFold(m.get("Connection"), "keep-alive") {
					t.Errorf("Connection: keep-alive on a body ended by close")
				}
				if len(m.body) != n {
					t.Fatalf("body of %d bytes, want %d", len(m.body), n)
				}
				if err := checkPattern(m.body, 0); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestE2EResponseTransferCodings checks a response whose transfer codings
// are more than chunked ("gzip, chunked", RFC 9112 §6.1): a proxy that
// forwards the chunked framing as it is must keep the codings applied
// before it, or the client takes the gzip stream for the content.
func TestE2EResponseTransferCodings(t *testing.T) {
	t.Parallel()
	content := strings.Repeat("transfer-coded content ", 500)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(content))
	_ = zw.Close()
	be := startScripted(t, func(c *bconn) {
		for {
			if _, err := c.readRequest(); err != nil {
				return
			}
			b := gz.Bytes()
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(b), b)
			if c.write(resp) != nil {
				return
			}
		}
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	s := startProxy(t, cfg)
	c := dialRaw(t, s.Addr())
	m := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: b\r\n\r\n")
	expectStatus(t, m, 200)
	te := strings.ToLower(strings.ReplaceAll(m.get("Transfer-Encoding"), " ", ""))
	switch {
	case te == "gzip,chunked":
		zr, err := gzip.NewReader(bytes.NewReader(m.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || string(got) != content {
			t.Fatalf("gzip coding does not decode to the content: %v", err)
		}
	case string(m.body) == content:
		// PILB decoded the gzip coding itself: also correct.
	default:
		t.Fatalf("client got Transfer-Encoding %q and a body that is not the content (%d bytes): the gzip coding was dropped", m.get("Transfer-Encoding"), len(m.body))
	}
}
