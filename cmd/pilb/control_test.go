package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/internal/demobackend"
	"github.com/pilb-proxy/pilb/internal/dnstest"
)

// The binaries are built once per test run, into one directory.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries returns the paths of pilb and pilb-backend, built from this tree.
func binaries(t *testing.T) (pilb, backend string) {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "pilb-bin-"); buildErr != nil {
			return
		}
		for _, pkg := range []string{".", "../pilb-backend"} {
			out, err := exec.Command("go", "build", "-o", buildDir, pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "pilb"), filepath.Join(buildDir, "pilb-backend")
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a pilb or pilb-backend process.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: new(syncBuffer), done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), p.stderr.String())
		}
	})
	return p
}

// stop sends sig and returns the exit error (nil for status 0).
func (p *proc) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit within 20s of %v", sig)
		return nil
	}
}

// admin is a client of a pilb admin API.
type admin struct {
	url, token string
}

func (a admin) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// backends returns GET /backends by id; a draining backend is listed
// under "id (draining)" so that it does not hide a new one of that id.
func (a admin) backends(t *testing.T) map[string]control.Status {
	t.Helper()
	code, data := a.do(t, "GET", "/backends", "")
	if code != 200 {
		t.Fatalf("GET /backends: %d %s", code, data)
	}
	var list []control.Status
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]control.Status{}
	for _, st := range list {
		key := st.ID
		if st.State == control.StateDraining {
			key += " (draining)"
		}
		m[key] = st
	}
	return m
}

func (a admin) waitFor(t *testing.T, what string, cond func(map[string]control.Status) bool) {
	t.Helper()
	var last map[string]control.Status
	if !eventually(15*time.Second, func() bool { last = a.backends(t); return cond(last) }) {
		t.Fatalf("%s: not within 15s; backends %+v", what, last)
	}
}

func eventually(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// load keeps n keep-alive clients sending GET / through the proxy and
// counts the answers by backend, and the failures.
type load struct {
	stop             atomic.Bool
	served, failures atomic.Int64
	mu               sync.Mutex
	seen             map[string]int
	errs             []string
	wg               sync.WaitGroup
}

func startLoad(url string, n int) *load {
	l := &load{seen: map[string]int{}}
	for range n {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for !l.stop.Load() {
				resp, err := client.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l.mu.Lock()
				switch {
				case err != nil:
					l.failures.Add(1)
					l.errs = append(l.errs, err.Error())
				case resp.StatusCode != 200:
					l.failures.Add(1)
					l.errs = append(l.errs, resp.Status)
				default:
					l.served.Add(1)
					l.seen[resp.Header.Get("Server")]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[id]
}

// more waits for n more answers.
func (l *load) more(t *testing.T, n int64) {
	t.Helper()
	target := l.served.Load() + n
	if !eventually(15*time.Second, func() bool { return l.served.Load() >= target || l.failures.Load() > 0 }) {
		t.Fatalf("load stalled at %d answers", l.served.Load())
	}
}

// finish stops the clients and fails the test if any request failed.
func (l *load) finish(t *testing.T) {
	t.Helper()
	l.stop.Store(true)
	l.wg.Wait()
	if f := l.failures.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed: %v", f, f+l.served.Load(), l.errs[:min(len(l.errs), 5)])
	}
}

// startPilb starts the proxy with an admin API and no backend unless args
// give some; it returns the proxy's and the admin API's addresses.
func startPilb(t *testing.T, env []string, args ...string) (*proc, string, admin) {
	t.Helper()
	bin, _ := binaries(t)
	addr, adminAddr := freeAddr(t), freeAddr(t)
	args = append([]string{"-listen", addr, "-admin", adminAddr, "-loops", "2", "-log-level", "info",
		"-health-interval", "200ms", "-drain-timeout", "5s"}, args...)
	p := startProc(t, bin, env, args...)
	waitListening(t, addr)
	waitListening(t, adminAddr)
	return p, addr, admin{url: "http://" + adminAddr}
}

// startDemoBackend starts an in-process demo backend on loopback.
func startDemoBackend(t *testing.T, id string) *demobackend.Server {
	t.Helper()
	s, err := demobackend.Start(demobackend.Config{ID: id, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// TestBinaryRegisterRefreshDeregister: pilb-backend processes register
// themselves (one by its port alone), stay registered past several ttls by
// their heartbeats, and on SIGTERM deregister, wait for the proxy to let go
// and exit 0, all under load with no failed request.
func TestBinaryRegisterRefreshDeregister(t *testing.T) {
	_, backendBin := binaries(t)
	_, addr, api := startPilb(t, nil)

	r1, r2 := freeAddr(t), freeAddr(t)
	_, r2port, _ := net.SplitHostPort(r2)
	b1 := startProc(t, backendBin, nil, "-id", "r1", "-listen", r1, "-register", api.url, "-ttl", "1s")
	startProc(t, backendBin, nil, "-id", "r2", "-listen", r2, "-advertise", ":"+r2port, "-register", api.url, "-ttl", "1s", "-pool", "default")
	api.waitFor(t, "r1 and r2 registered", func(m map[string]control.Status) bool {
		return m["r1"].State == control.StateUp && m["r2"].State == control.StateUp
	})
	if st := api.backends(t)["r2"]; st.Addr != r2 || st.Source != control.SourceAPI || st.TTL != "1s" {
		t.Fatalf("r2 registered as %+v, want addr %s (its port and the source address)", st, r2)
	}

	l := startLoad("http://"+addr+"/", 4)
	l.more(t, 300)
	if l.count("r1") == 0 || l.count("r2") == 0 {
		t.Fatalf("both should serve: %v", l.seen)
	}
	// Three ttls later both are still there: the heartbeats refreshed them.
	time.Sleep(3 * time.Second)
	m := api.backends(t)
	if m["r1"].State != control.StateUp || m["r2"].State != control.StateUp {
		t.Fatalf("after 3 ttls: %+v", m)
	}

	if err := b1.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("pilb-backend r1 after SIGTERM: %v\n%s", err, b1.stderr.String())
	}
	if !strings.Contains(b1.stderr.String(), "deregistered") {
		t.Fatalf("r1 did not log its deregistration:\n%s", b1.stderr.String())
	}
	before := l.count("r1")
	l.more(t, 300)
	if got := l.count("r1") - before; got != 0 {
		t.Fatalf("r1 answered %d requests after it exited", got)
	}
	api.waitFor(t, "r1 forgotten once drained", func(m map[string]control.Status) bool {
		_, active := m["r1"]
		_, draining := m["r1 (draining)"]
		return !active && !draining
	})
	l.finish(t)
}

// TestBinaryExpireDeleteMove: registrations over the API that expire, are
// deleted and move to another address, under load with no failed request.
func TestBinaryExpireDeleteMove(t *testing.T) {
	_, addr, api := startPilb(t, nil)
	keep := startDemoBackend(t, "keep")
	short := startDemoBackend(t, "short")
	del := startDemoBackend(t, "del")
	from := startDemoBackend(t, "from")
	to := startDemoBackend(t, "to")
	reg := func(id, a, ttl string) int {
		body := fmt.Sprintf(`{"id":%q,"addr":%q`, id, a)
		if ttl != "" {
			body += fmt.Sprintf(`,"ttl":%q`, ttl)
		}
		code, data := api.do(t, "POST", "/backends", body+"}")
		if code != 200 && code != 201 {
			t.Fatalf("POST %s: %d %s", body, code, data)
		}
		return code
	}
	reg("keep", keep.Addr(), "")
	reg("short", short.Addr(), "1s") // never refreshed
	reg("del", del.Addr(), "")
	reg("m1", from.Addr(), "")
	l := startLoad("http://"+addr+"/", 4)
	l.more(t, 200)

	// The ttl passes: "short" drains and is gone.
	api.waitFor(t, "short expired", func(m map[string]control.Status) bool {
		_, ok := m["short"]
		return !ok
	})
	n := short.Requests()
	l.more(t, 200)
	if short.Requests() > n {
		t.Fatalf("expired backend got %d more requests", short.Requests()-n)
	}

	// DELETE: drained, requests in flight finish, it goes.
	if code, data := api.do(t, "DELETE", "/backends/del", ""); code != 200 || !bytes.Contains(data, []byte(`"draining"`)) {
		t.Fatalf("DELETE: %d %s", code, data)
	}
	n = del.Requests()
	l.more(t, 200)
	if del.Requests() > n+4 { // at most the requests in flight at the DELETE
		t.Fatalf("deleted backend got %d more requests", del.Requests()-n)
	}
	api.waitFor(t, "del forgotten", func(m map[string]control.Status) bool {
		_, draining := m["del (draining)"]
		return !draining
	})

	// Moving id m1 to another address: 200, traffic moves, the old drains.
	if code := reg("m1", to.Addr(), ""); code != 200 {
		t.Fatalf("move: %d, want 200", code)
	}
	if st := api.backends(t)["m1"]; st.Addr != to.Addr() {
		t.Fatalf("m1 after the move: %+v", st)
	}
	n = from.Requests()
	l.more(t, 300)
	if from.Requests() > n+4 || l.count("to") == 0 {
		t.Fatalf("after the move: old address got %d more, new one %d", from.Requests()-n, l.count("to"))
	}
	l.finish(t)
	if l.count("keep") == 0 {
		t.Fatal("the steady backend got nothing")
	}
}

// TestBinaryAdminAuth: with a token from PILB_ADMIN_TOKEN, requests without
// it are refused and change nothing; a pilb-backend with the token
// registers, one with a wrong token does not. Without a token, pilb refuses
// to start the admin API on every interface.
func TestBinaryAdminAuth(t *testing.T) {
	bin, backendBin := binaries(t)
	_, _, api := startPilb(t, []string{"PILB_ADMIN_TOKEN=s3cret"})
	code, data := api.do(t, "POST", "/backends", `{"id":"x","addr":"127.0.0.1:1"}`)
	if code != 401 || !bytes.Contains(data, []byte("token")) {
		t.Fatalf("no token: %d %s", code, data)
	}
	code, _ = api.do(t, "GET", "/backends", "")
	if code != 401 {
		t.Fatalf("GET without a token: %d", code)
	}
	good := admin{url: api.url, token: "s3cret"}
	startProc(t, backendBin, []string{"PILB_ADMIN_TOKEN=s3cret"}, "-id", "ok", "-listen", freeAddr(t), "-register", api.url)
	bad := startProc(t, backendBin, nil, "-id", "nope", "-listen", freeAddr(t), "-register", api.url, "-token", "guess")
	good.waitFor(t, "the backend with the token registered", func(m map[string]control.Status) bool {
		return m["ok"].State == control.StateUp
	})
	if !eventually(10*time.Second, func() bool { return strings.Contains(bad.stderr.String(), "registration failed") }) {
		t.Fatalf("wrong token: no failure logged:\n%s", bad.stderr.String())
	}
	if _, ok := good.backends(t)["nope"]; ok {
		t.Fatal("registered with a wrong token")
	}

	cmd := exec.Command(bin, "-demo", "1", "-listen", freeAddr(t), "-admin", "0.0.0.0:0")
	cmd.Env = append(os.Environ(), "PILB_ADMIN_TOKEN=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("admin on every interface without a token: %v, want exit status 2", err)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "-admin") || !strings.Contains(msg, "refused") {
		t.Fatalf("stderr %q, want one line naming -admin", msg)
	}
}

// TestBinaryRoutes: -backends with pools and -route by Host and prefix.
func TestBinaryRoutes(t *testing.T) {
	api, static, def := startDemoBackend(t, "api"), startDemoBackend(t, "static"), startDemoBackend(t, "def")
	_, addr, _ := startPilb(t, nil, "-backends", "api="+api.Addr(), "-backends", "static="+static.Addr(),
		"-backends", def.Addr(), "-route", "api.example.com=api", "-route", "/static/=static")
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range []struct{ host, path, want string }{
		{"api.example.com", "/", "api"},
		{"API.EXAMPLE.COM:8080", "/x", "api"},
		{"www.example.com", "/static/app.js", "static"},
		{"api.example.com", "/static/app.js", "api"}, // the host route is more specific
		{"www.example.com", "/", "def"},
		{"", "/staticx", "def"},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+tt.path, nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Server"); resp.StatusCode != 200 || got != tt.want {
			t.Errorf("Host %q %s: %d from %q, want %s", tt.host, tt.path, resp.StatusCode, got, tt.want)
		}
	}
}

// TestBinaryBalancers: each -balance over real sockets, backends
// registered through the API with weights. One client at a time, so the
// rotation is exact for roundrobin, weighted and leastconn; p2c draws at
// random.
func TestBinaryBalancers(t *testing.T) {
	demos := []*demobackend.Server{startDemoBackend(t, "w1"), startDemoBackend(t, "w2"), startDemoBackend(t, "w3")}
	for _, tt := range []struct {
		policy  string
		weights []int
		want    func(counts []int) bool
	}{
		{"roundrobin", []int{1, 2, 3}, func(c []int) bool { return c[0] == 200 && c[1] == 200 && c[2] == 200 }},
		{"weighted", []int{1, 2, 3}, func(c []int) bool { return c[0] == 100 && c[1] == 200 && c[2] == 300 }},
		{"leastconn", []int{1, 1, 1}, func(c []int) bool { return c[0] == 200 && c[1] == 200 && c[2] == 200 }},
		// Idle backends tie, and the first drawn wins: uniform, within 5
		// standard deviations.
		{"p2c", []int{1, 1, 1}, func(c []int) bool {
			for _, n := range c {
				if n < 200-58 || n > 200+58 {
					return false
				}
			}
			return true
		}},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			_, addr, api := startPilb(t, nil, "-balance", tt.policy)
			for i, d := range demos {
				code, data := api.do(t, "POST", "/backends", fmt.Sprintf(`{"id":"w%d","addr":%q,"weight":%d}`, i+1, d.Addr(), tt.weights[i]))
				if code != 201 {
					t.Fatalf("register: %d %s", code, data)
				}
			}
			client := &http.Client{Timeout: 5 * time.Second}
			counts := make([]int, 3)
			for range 600 {
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				var i int
				if _, err := fmt.Sscanf(resp.Header.Get("Server"), "w%d", &i); err != nil || resp.StatusCode != 200 {
					t.Fatalf("%d from %q", resp.StatusCode, resp.Header.Get("Server"))
				}
				counts[i-1]++
			}
			if !tt.want(counts) {
				t.Fatalf("%s with weights %v: %v", tt.policy, tt.weights, counts)
			}
			m := api.backends(t)
			if m["w3"].Requests != uint64(counts[2]) || m["w3"].Weight != tt.weights[2] {
				t.Fatalf("GET /backends says w3 got %d requests at weight %d; the clients saw %d", m["w3"].Requests, m["w3"].Weight, counts[2])
			}
		})
	}
}

// TestBinarySIGHUP: SIGHUP re-resolves a -backends-dns name at once (the
// interval is an hour), logs the backend set, and pilb keeps serving.
func TestBinarySIGHUP(t *testing.T) {
	d1, err := demobackend.Start(demobackend.Config{ID: "d1", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Stop(context.Background())
	_, port, _ := net.SplitHostPort(d1.Addr())
	d2, err := demobackend.Start(demobackend.Config{ID: "d2", Addr: "127.0.0.2:" + port})
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer d2.Stop(context.Background())

	dns := dnstest.Start(t)
	dns.SetIPs("app.test", "127.0.0.1")
	p, addr, api := startPilb(t, nil, "-backends-dns", "app.test:"+port, "-dns-server", dns.Addr, "-dns-interval", "1h")
	get := func() string {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Server")
	}
	if got := get(); got != "d1" {
		t.Fatalf("before: %q, want d1", got)
	}
	dns.SetIPs("app.test", "127.0.0.2")
	for range 3 { // the interval is an hour: nothing changes by itself
		if got := get(); got != "d1" {
			t.Fatalf("without SIGHUP: %q, want d1", got)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return get() == "d2" }) {
		t.Fatalf("after SIGHUP the new address does not serve:\n%s", p.stderr.String())
	}
	if !eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "backend set") }) {
		t.Fatalf("SIGHUP did not log the backend set:\n%s", p.stderr.String())
	}
	if st := api.backends(t)["app.test@127.0.0.2:"+port]; st.Source != control.SourceDNS || st.State != control.StateUp {
		t.Fatalf("new backend: %+v", st)
	}
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestBinaryAPIBackendIsProbed: a backend registered through the API is
// health-checked like the others: one that does not answer goes down with
// the probe's error, and comes up when it starts answering.
func TestBinaryAPIBackendIsProbed(t *testing.T) {
	_, _, api := startPilb(t, nil, "-health-rise", "1", "-health-fall", "2")
	addr := freeAddr(t) // nothing listens there yet
	if code, data := api.do(t, "POST", "/backends", fmt.Sprintf(`{"id":"late","addr":%q}`, addr)); code != 201 {
		t.Fatalf("register: %d %s", code, data)
	}
	api.waitFor(t, "late down", func(m map[string]control.Status) bool {
		st := m["late"]
		return st.State == control.StateDown && strings.Contains(st.LastError, "health probe")
	})
	s, err := demobackend.Start(demobackend.Config{ID: "late", Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	api.waitFor(t, "late up once it answers", func(m map[string]control.Status) bool {
		return m["late"].State == control.StateUp
	})
}

// TestBinaryBackendsHostname: a host name in -backends is resolved at
// start, each address a backend, and not again per connection (the DNS
// server sees no query while requests flow); a name that does not resolve
// at start is an error.
func TestBinaryBackendsHostname(t *testing.T) {
	bin, _ := binaries(t)
	d1 := startDemoBackend(t, "d1")
	_, port, _ := net.SplitHostPort(d1.Addr())
	dns := dnstest.Start(t)
	dns.SetIPs("web.test", "127.0.0.1")
	_, addr, api := startPilb(t, nil, "-backends", "web=web.test:"+port, "-route", "/x=web",
		"-dns-server", dns.Addr, "-dns-interval", "1h", "-conns-per-backend", "0")
	if st := api.backends(t)["web:web.test@127.0.0.1:"+port]; st.Pool != "web" || st.Source != control.SourceFlag {
		t.Fatalf("backend from the host name: %+v", st)
	}
	queries := dns.Queries.Load()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for range 50 { // a new connection to the proxy, and from it, each time
		resp, err := client.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Server") != "d1" {
			t.Fatalf("answered by %q", resp.Header.Get("Server"))
		}
	}
	if q := dns.Queries.Load(); q != queries {
		t.Fatalf("%d DNS queries during 50 connections, want none", q-queries)
	}

	cmd := exec.Command(bin, "-listen", freeAddr(t), "-admin", "", "-backends", "missing.test:80", "-dns-server", dns.Addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "missing.test") {
		t.Fatalf("unresolvable -backends name: %v, stderr %q", err, stderr.String())
	}
}
