package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the access log's writer and the
// test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

type jsonLine struct {
	Time          string  `json:"time"`
	Client        string  `json:"client"`
	Method        string  `json:"method"`
	Target        string  `json:"target"`
	Proto         string  `json:"proto"`
	Status        int     `json:"status"`
	BytesSent     int64   `json:"bytes_sent"`
	BytesReceived int64   `json:"bytes_received"`
	DurationMS    float64 `json:"duration_ms"`
	Pool          string  `json:"pool"`
	Backend       string  `json:"backend"`
	Retries       int     `json:"retries"`
}

// TestAccessLogJSON reads the lines of a few requests back and checks
// every field: a proxied GET, a POST with a body, a refused head, a client
// that left before its answer, and a target that needs escaping.
func TestAccessLogJSON(t *testing.T) {
	hold := make(chan struct{})
	be := startScripted(t, func(c *bconn) {
		for {
			m, err := c.readRequest()
			if err != nil {
				return
			}
			if strings.Contains(m.line, "/hold") {
				<-hold
				return
			}
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") != nil {
				return
			}
		}
	})
	defer close(hold)
	out := &syncBuffer{}
	alog := NewAccessLog(out, AccessLogJSON, nil)
	defer alog.Close()
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.AccessLog = alog
	s := startProxy(t, cfg)

	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	expectStatus(t, c.roundTrip("POST", "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"), 200)
	expectStatus(t, c.roundTrip("GET", "GET /q\"\\%ff HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"), 200)
	bad := dialRaw(t, s.Addr())
	expectStatus(t, bad.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), 400)
	gone := dialRaw(t, s.Addr())
	gone.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // let it reach the backend
	// A reset: a FIN alone would be a half-close, which PILB answers.
	_ = gone.Conn.(*net.TCPConn).SetLinger(0)
	gone.Close()

	var lines []string
	if !eventually(5*time.Second, func() bool { lines = out.lines(); return len(lines) == 5 }) {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	byTarget := map[string]jsonLine{}
	for _, ln := range lines {
		var j jsonLine
		dec := json.NewDecoder(strings.NewReader(ln))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		if ts, err := time.Parse(time.RFC3339Nano, j.Time); err != nil || time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("time %q: %v", j.Time, err)
		}
		if j.Client != "127.0.0.1" {
			t.Errorf("client %q", j.Client)
		}
		byTarget[j.Method+" "+j.Target] = j
	}
	get := byTarget["GET /a?b=1"]
	if get.Status != 200 || get.Proto != "HTTP/1.1" || get.Pool != "default" || get.Backend != "s1" ||
		get.Retries != 0 || get.BytesSent < 5 || get.BytesReceived != int64(len("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n")) ||
		get.DurationMS < 0 || get.DurationMS > 5000 {
		t.Errorf("GET line %+v", get)
	}
	post := byTarget["POST /up"]
	if post.Status != 200 || post.BytesReceived != int64(len("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")) {
		t.Errorf("POST line %+v", post)
	}
	odd := byTarget["GET /q\"\\%ff"]
	if odd.Status != 200 || odd.Proto != "HTTP/1.0" {
		t.Errorf("escaped target line %+v (lines:\n%s)", odd, strings.Join(lines, "\n"))
	}
	rej := byTarget[" "]
	if rej.Status != 400 || rej.Pool != "none" || rej.Backend != "none" || rej.BytesSent == 0 {
		t.Errorf("refused head line %+v", rej)
	}
	left := byTarget["GET /hold"]
	if left.Status != 499 || left.Backend != "s1" {
		t.Errorf("client that left: %+v", left)
	}
}

// TestAccessLogCommon checks the Common Log Format line of a request and
// of a refused head, written to a file.
func TestAccessLogCommon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	alog := NewAccessLog(f, AccessLogCommon, nil)
	s, _ := proxyToDemo(t, 1, Config{Loops: 1, Operations: Operations{AccessLog: alog}})
	resp, _ := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.Addr()+"/bytes/10")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c := dialRaw(t, s.Addr())
	expectStatus(t, c.roundTrip("GET", "GARBAGE\r\n\r\n"), 400)
	shutdownClean(t, s)
	alog.Close()
	f.Close()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("lines:\n%s", b)
	}
	ok := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /bytes/10 HTTP/1\.1" 200 \d+ ` +
		`pool=default backend=s1 duration_ms=\d+\.\d{3} retries=0 bytes_received=\d+$`)
	rej := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "-" 400 \d+ pool=none backend=none duration_ms=0\.000 retries=0 bytes_received=0$`)
	if !ok.MatchString(lines[0]) && !ok.MatchString(lines[1]) {
		t.Errorf("no request line matches %v:\n%s", ok, b)
	}
	if !rej.MatchString(lines[0]) && !rej.MatchString(lines[1]) {
		t.Errorf("no refused line matches %v:\n%s", rej, b)
	}
}

// TestAccessLogFullRingDrops: a loop whose ring is full drops and counts
// records rather than wait for the writer.
func TestAccessLogFullRingDrops(t *testing.T) {
	blocked := &blockingWriter{release: make(chan struct{})}
	alog := NewAccessLog(blocked, AccessLogJSON, nil)
	s, _ := proxyToDemo(t, 1, Config{Loops: 1, ConnsPerBackend: 1, Operations: Operations{AccessLog: alog}})
	rt := newRoundTripper(t, s.Addr())
	// The writer takes a batch, then blocks in its first write while the
	// loop goes on filling its ring.
	for range 2*ringSize + writeBufferSize/64 {
		rt.do(t)
	}
	_, dropped := alog.Counts()
	close(blocked.release)
	alog.Close()
	lines, _ := alog.Counts()
	if dropped == 0 {
		t.Fatalf("nothing dropped with the writer blocked (%d lines)", lines)
	}
	t.Logf("%d lines written, %d dropped", lines, dropped)
}

// blockingWriter blocks every write until release is closed.
type blockingWriter struct{ release chan struct{} }

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}
