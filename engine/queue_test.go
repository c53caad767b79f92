package engine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// gate is a scripted backend that holds each request until the test
// releases it, and records the order requests arrive in.
type gate struct {
	mu       sync.Mutex
	arrived  []string // request targets, in arrival order
	release  map[string]chan struct{}
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	lastBody atomic.Int64
}

func newGate() *gate { return &gate{release: map[string]chan struct{}{}} }

func (g *gate) ch(target string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.release[target]
	if c == nil {
		c = make(chan struct{})
		g.release[target] = c
	}
	return c
}

// open lets the request for target be answered.
func (g *gate) open(target string) { close(g.ch(target)) }

func (g *gate) order() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.arrived...)
}

func (g *gate) serve(c *bconn) {
	for {
		m, err := c.readRequest()
		if err != nil {
			return
		}
		target := strings.Fields(m.line)[1]
		g.lastBody.Store(int64(len(m.body)))
		n := g.inFlight.Add(1)
		for {
			if old := g.maxSeen.Load(); n <= old || g.maxSeen.CompareAndSwap(old, n) {
				break
			}
		}
		g.mu.Lock()
		g.arrived = append(g.arrived, target)
		g.mu.Unlock()
		if !strings.HasPrefix(target, "/free") {
			<-g.ch(target)
		}
		g.inFlight.Add(-1)
		if c.write("HTTP/1.1 200 OK\r\nContent-Length: "+fmt.Sprint(len(target))+"\r\n\r\n"+target) != nil {
			return
		}
	}
}

// cappedSet is a backend set of addrs, each capped at max requests in
// flight.
func cappedSet(t testing.TB, max int, addrs ...string) *pool.Set {
	t.Helper()
	set := &pool.Set{}
	for i, a := range addrs {
		if err := set.Add(&pool.Backend{ID: fmt.Sprintf("s%d", i+1), Addr: a, MaxConns: max}); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

func queueConfig(set *pool.Set) Config {
	cfg := e2eConfig()
	cfg.Backends = set
	cfg.QueueTimeout = 5 * time.Second
	cfg.Metrics = true
	return cfg
}

// TestQueueArrivalOrder: with the only backend at its cap, requests from
// clients on both loops wait and are served in the order they came, one
// as each slot frees.
func TestQueueArrivalOrder(t *testing.T) {
	g := newGate()
	be := startScripted(t, g.serve)
	s := startProxy(t, queueConfig(cappedSet(t, 1, be.Addr())))
	scrape := scrapeEngine(t, s)

	var conns []*rawConn
	for i := range 5 {
		c := dialRaw(t, s.Addr())
		c.send(fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: q\r\n\r\n", i))
		conns = append(conns, c)
		// One at a time: the arrival order is the order sent.
		if i == 0 {
			if !eventually(5*time.Second, func() bool { return len(g.order()) == 1 }) {
				t.Fatal("first request never reached the backend")
			}
		} else if !eventually(5*time.Second, func() bool { return s.queueLen("default") == i }) {
			t.Fatalf("%d queued, want %d", s.queueLen("default"), i)
		}
	}
	for i := range 5 {
		g.open(fmt.Sprintf("/r%d", i))
		m := conns[i].resp("GET")
		expectStatus(t, m, 200)
		if string(m.body) != fmt.Sprintf("/r%d", i) {
			t.Fatalf("client %d got %q", i, m.body)
		}
	}
	want := "/r0 /r1 /r2 /r3 /r4"
	if got := strings.Join(g.order(), " "); got != want {
		t.Fatalf("backend saw %s, want %s", got, want)
	}
	if n := g.maxSeen.Load(); n != 1 {
		t.Fatalf("%d requests in flight on a backend capped at 1", n)
	}
	mfs := scrape()
	if got := metricValue(mfs, "pilb_queue_requests_total", "pool", "default"); got != 4 {
		t.Errorf("pilb_queue_requests_total %v, want 4", got)
	}
	if got := metricValue(mfs, "pilb_queue_waiting_requests"); got != 0 {
		t.Errorf("pilb_queue_waiting_requests %v, want 0", got)
	}
}

// TestQueueTimeoutAndFull: a request that waits QueueTimeout gets 503; one
// that finds the queue full gets 503 at once; a client that leaves its
// place passes its turn on.
func TestQueueTimeoutAndFull(t *testing.T) {
	g := newGate()
	be := startScripted(t, g.serve)
	cfg := queueConfig(cappedSet(t, 1, be.Addr()))
	cfg.QueueTimeout = 400 * time.Millisecond
	cfg.MaxQueue = 2
	s := startProxy(t, cfg)
	scrape := scrapeEngine(t, s)

	hold := dialRaw(t, s.Addr())
	hold.send("GET /hold HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return len(g.order()) == 1 }) {
		t.Fatal("first request never reached the backend")
	}
	start := time.Now()
	waiting := dialRaw(t, s.Addr())
	waiting.send("GET /w HTTP/1.1\r\nHost: q\r\n\r\n")
	leaving := dialRaw(t, s.Addr())
	leaving.send("GET /gone HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return s.queueLen("default") == 2 }) {
		t.Fatalf("%d queued, want 2", s.queueLen("default"))
	}
	full := dialRaw(t, s.Addr())
	m := full.roundTrip("GET", "GET /full HTTP/1.1\r\nHost: q\r\n\r\n")
	expectStatus(t, m, 503)
	if time.Since(start) > 300*time.Millisecond {
		t.Errorf("a full queue took %v to answer", time.Since(start))
	}
	_ = leaving.Conn.(*net.TCPConn).SetLinger(0)
	leaving.Close()
	expectStatus(t, waiting.resp("GET"), 503)
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("queue timeout after %v, want about 400ms", d)
	}
	g.open("/hold")
	expectStatus(t, hold.resp("GET"), 200)
	// The slot is free and nobody waits: the next request goes through.
	g.open("/after")
	expectStatus(t, dialRaw(t, s.Addr()).roundTrip("GET", "GET /after HTTP/1.1\r\nHost: q\r\n\r\n"), 200)
	if got := strings.Join(g.order(), " "); got != "/hold /after" {
		t.Errorf("backend saw %s", got)
	}
	mfs := scrape()
	for name, want := range map[string]float64{"pilb_queue_timeouts_total": 1, "pilb_queue_full_total": 1, "pilb_queue_requests_total": 2} {
		if got := metricValue(mfs, name, "pool", "default"); got != want {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
}

// TestQueueTurnPassesOn: a client that leaves the queue after it was
// woken (its slot freed) passes the slot to the next in line.
func TestQueueLeaverPassesTurn(t *testing.T) {
	g := newGate()
	be := startScripted(t, g.serve)
	s := startProxy(t, queueConfig(cappedSet(t, 1, be.Addr())))
	hold := dialRaw(t, s.Addr())
	hold.send("GET /hold HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return len(g.order()) == 1 }) {
		t.Fatal("first request never reached the backend")
	}
	var conns []*rawConn
	for i := range 3 {
		c := dialRaw(t, s.Addr())
		c.send(fmt.Sprintf("GET /free%d HTTP/1.1\r\nHost: q\r\n\r\n", i))
		conns = append(conns, c)
		if !eventually(5*time.Second, func() bool { return s.queueLen("default") == i+1 }) {
			t.Fatal("not queued")
		}
	}
	// The first in line leaves; the others are served in order once the
	// slot frees.
	_ = conns[0].Conn.(*net.TCPConn).SetLinger(0)
	conns[0].Close()
	if !eventually(5*time.Second, func() bool { return s.queueLen("default") == 2 }) {
		t.Fatalf("%d queued after one left", s.queueLen("default"))
	}
	g.open("/hold")
	expectStatus(t, hold.resp("GET"), 200)
	expectStatus(t, conns[1].resp("GET"), 200)
	expectStatus(t, conns[2].resp("GET"), 200)
	if got := strings.Join(g.order(), " "); got != "/hold /free1 /free2" {
		t.Errorf("backend saw %s", got)
	}
}

// TestQueueNoBackendAvailable: with every backend down nothing is queued:
// 503 at once.
func TestQueueNoBackendAvailable(t *testing.T) {
	be := startScripted(t, serveOK)
	set := cappedSet(t, 1, be.Addr())
	s := startProxy(t, queueConfig(set))
	for _, b := range set.Snapshot() {
		b.SetHealthy(false)
	}
	start := time.Now()
	expectStatus(t, dialRaw(t, s.Addr()).roundTrip("GET", "GET / HTTP/1.1\r\nHost: q\r\n\r\n"), 503)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("503 after %v", d)
	}
}

// TestQueueBodyWaits: a request whose body is still coming waits in the
// queue (its client paused past HighWater), and its body streams once it
// has a slot.
func TestQueueBodyWaits(t *testing.T) {
	for _, hw := range []int{8 << 10, DefaultHighWater} {
		t.Run(fmt.Sprint("highwater=", hw), func(t *testing.T) { testQueueBodyWaits(t, hw) })
	}
}

func testQueueBodyWaits(t *testing.T, highWater int) {
	g := newGate()
	holdBE := startScripted(t, g.serve)
	set := &pool.Set{}
	set.Add(&pool.Backend{ID: "s1", Addr: holdBE.Addr(), MaxConns: 1})
	cfg := queueConfig(set)
	cfg.HighWater = highWater
	s := startProxy(t, cfg)
	hold := dialRaw(t, s.Addr())
	hold.send("GET /hold HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return len(g.order()) == 1 }) {
		t.Fatal("first request never reached the backend")
	}
	body := strings.Repeat("b", 200<<10)
	c := dialRaw(t, s.Addr())
	c.send("POST /free HTTP/1.1\r\nHost: q\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body[:1000])
	if !eventually(5*time.Second, func() bool { return s.queueLen("default") == 1 }) {
		t.Fatal("not queued")
	}
	go func() { io.WriteString(c.Conn, body[1000:]) }()
	time.Sleep(100 * time.Millisecond)
	g.open("/hold")
	expectStatus(t, hold.resp("GET"), 200)
	expectStatus(t, c.resp("POST"), 200)
	if n := g.lastBody.Load(); n != int64(len(body)) {
		t.Fatalf("backend got a %d-byte body, want %d", n, len(body))
	}
}

// TestQueueUnderLoad: 32 keep-alive clients on two loops against two
// backends capped at 2 requests each: every request is served (none 503,
// as before the queue half of them were), and no backend ever holds more
// than its cap.
func TestQueueUnderLoad(t *testing.T) {
	var inFlight, maxSeen atomic.Int64
	slow := func(c *bconn) {
		for {
			if _, err := c.readRequest(); err != nil {
				return
			}
			n := inFlight.Add(1)
			for old := maxSeen.Load(); n > old && !maxSeen.CompareAndSwap(old, n); old = maxSeen.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			inFlight.Add(-1)
			if c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") != nil {
				return
			}
		}
	}
	b1, b2 := startScripted(t, slow), startScripted(t, slow)
	cfg := queueConfig(cappedSet(t, 2, b1.Addr(), b2.Addr()))
	cfg.QueueTimeout = 20 * time.Second
	s := startProxy(t, cfg)

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for range 10 {
				resp, err := client.Get("http://" + s.Addr() + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
			client.CloseIdleConnections()
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || ok.Load() != 320 {
		t.Fatalf("%d ok, %d failed", ok.Load(), failed.Load())
	}
	if n := maxSeen.Load(); n > 4 {
		t.Fatalf("%d requests in flight at once on two backends capped at 2", n)
	}
}

// TestQueuedRequestGoesToTheCurrentPool: a request queued behind a backend
// that then leaves the pool (deregistered: draining, and a new table
// without it, with another backend) takes its turn in the pool as it is
// now, not as it was when the request arrived, where nothing is left to
// pick (503).
func TestQueuedRequestGoesToTheCurrentPool(t *testing.T) {
	g := newGate()
	ba, bb := startScripted(t, g.serve), startScripted(t, g.serve)
	a := &pool.Backend{ID: "a", Addr: ba.Addr(), MaxConns: 1}
	routes := pool.NewRoutes(routedTable(t, map[string][]*pool.Backend{"default": {a}}))
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Routes = routes
	cfg.QueueTimeout = 5 * time.Second
	s := startProxy(t, cfg)

	hold := dialRaw(t, s.Addr())
	hold.send("GET /hold HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return len(g.order()) == 1 }) {
		t.Fatal("the first request never reached its backend")
	}
	c := dialRaw(t, s.Addr())
	c.send("GET /free-queued HTTP/1.1\r\nHost: q\r\n\r\n")
	if !eventually(5*time.Second, func() bool { return s.queueLen("default") == 1 }) {
		t.Fatal("the second request did not queue")
	}
	a.SetDraining(true)
	routes.Store(routedTable(t, map[string][]*pool.Backend{"default": {{ID: "b", Addr: bb.Addr(), MaxConns: 1}}}))
	g.open("/hold")
	expectStatus(t, hold.resp("GET"), 200)
	m := c.resp("GET")
	expectStatus(t, m, 200)
	if string(m.body) != "/free-queued" {
		t.Fatalf("got %q", m.body)
	}
}
