package hostile

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// fakeWrk puts a wrk on PATH that logs its arguments and prints the
// report script's line, with a slow count when asked for one.
func fakeWrk(t *testing.T) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$@" >> ` + calls + `
slow=""
if [ -n "$PILB_BENCH_SLOW_US" ]; then slow=" slow_us=$PILB_BENCH_SLOW_US slow=7"; fi
echo "PILB-BENCH requests=1000 bytes=12000 duration_us=1000000 connect=0 read=1 write=0 status=0 timeout=2 p50_us=100 p90_us=200 p99_us=300 p999_us=400 mean_us=120.00 max_us=500$slow"
`
	if err := os.WriteFile(filepath.Join(dir, "wrk"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

// fakeProxy is a reverse proxy inside the test process: its memory and
// CPU time are the test's own.
type fakeProxy struct {
	srv *http.Server
	wg  sync.WaitGroup
}

var _ proxies.Proxy = (*fakeProxy)(nil)

func (p *fakeProxy) Name() string { return "fake" }

func (p *fakeProxy) Start(ctx context.Context, cfg proxies.Config) error {
	u, err := url.Parse("http://" + cfg.Backends[0])
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	p.srv = &http.Server{Handler: httputil.NewSingleHostReverseProxy(u)}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = p.srv.Serve(ln) }()
	return nil
}

func (p *fakeProxy) PIDs() []int { return []int{os.Getpid()} }

func (p *fakeProxy) Stop() error {
	err := p.srv.Close()
	p.wg.Wait()
	return err
}

// Every scenario end to end on fixed inputs: a stand-in wrk, an
// in-process proxy over a real backend, a few connections. It checks
// the orchestration — what runs against what, what each figure holds —
// not any speed.
func TestRunEveryScenario(t *testing.T) {
	calls := fakeWrk(t)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello world\n"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go backend.Serve(ln)
	defer backend.Close()

	var out bytes.Buffer
	e := &Env{
		Proxies: []Proxy{{Name: "pilb", New: func() proxies.Proxy { return &fakeProxy{} }},
			{Name: "haproxy", New: func() proxies.Proxy { return &fakeProxy{} }}},
		Backends: []string{ln.Addr().String()}, ConnsPerBackend: 4, Dir: t.TempDir(), Rounds: 2, Duration: time.Second,
		Threads: 2, Clients: 20, Slowloris: 5, SlowlorisInterval: 10 * time.Millisecond, HeaderTimeout: time.Second,
		TransferSize: 300 << 10, TransferRate: 64 << 20, Deadline: time.Now().Add(5 * time.Minute), Out: &out,
	}
	run := &results.Run{Kind: results.KindHostile}
	if !Run(context.Background(), e, results.Scenarios, run) {
		t.Fatalf("Run stopped early:\n%s", out.String())
	}
	for _, f := range run.Figures {
		if f.Err != "" {
			t.Errorf("%s %s %s r%d: %s", f.Scenario, f.Variant, f.Proxy, f.Round, f.Err)
		}
	}
	for _, sc := range results.Scenarios {
		want := 2 * 2 * figuresPer(sc)
		if got := len(run.FiguresOf(sc, "")) + len(run.FiguresOf(sc, results.VariantDownload)) + len(run.FiguresOf(sc, results.VariantUpload)); got != want {
			t.Errorf("%s: %d figures, want %d", sc, got, want)
		}
	}
	// The proxies alternate: round 2 starts with the second.
	conns := run.FiguresOf(results.ScenarioConns, "")
	if order := []string{conns[0].Proxy, conns[1].Proxy, conns[2].Proxy, conns[3].Proxy}; !slices.Equal(order, []string{"pilb", "haproxy", "haproxy", "pilb"}) {
		t.Errorf("conns8000 order %v", order)
	}
	check := func(sc, variant string, want map[string]float64, present ...string) {
		t.Helper()
		for _, f := range run.FiguresOf(sc, variant) {
			for k, v := range want {
				if f.Values[k] != v {
					t.Errorf("%s %s %s r%d: %s = %v, want %v", sc, variant, f.Proxy, f.Round, k, f.Values[k], v)
				}
			}
			for _, k := range present {
				if _, ok := f.Values[k]; !ok {
					t.Errorf("%s %s %s r%d: no %s in %v", sc, variant, f.Proxy, f.Round, k, f.Values)
				}
			}
		}
	}
	check(results.ScenarioConns, "", map[string]float64{results.ValTimeouts: 2, results.ValSocketErrors: 1, results.ValP99: 0.3},
		results.ValRPS, results.ValPeakRSS, results.ValCPUPerReq)
	check(results.ScenarioSlowloris, "", map[string]float64{results.ValKept: 1, results.ValSlowOpen: 5},
		results.ValQuietRPS, results.ValSlowDials)
	check(results.ScenarioIdle, "", map[string]float64{results.ValOpened: 20, results.ValStillOpen: 20, results.ValFailed: 0},
		results.ValRSSPerConn, results.ValRSSBefore, results.ValRSSPerBusy)
	for _, v := range []string{results.VariantDownload, results.VariantUpload} {
		check(results.ScenarioTransfer, v, nil, results.ValGrowthPeak, results.ValGrowthCold, results.ValGrowthEnd, results.ValRate)
	}
	check(results.ScenarioDownloads, "", map[string]float64{results.ValSlow: 7}, results.ValP90)
	check(results.ScenarioCPU, "", map[string]float64{results.ValRPS: 1000}, results.ValCPUPerReq)

	// wrk's command lines: the scenario's connections, timeout and path.
	b, _ := os.ReadFile(calls)
	log := string(b)
	for _, want := range []string{"-t 2 -c 20 -d 1s --timeout 5s", "-c 1024 -d 1s --timeout 11s", "/bytes/1048576", "-t 1 -c 64", "-H Connection: close"} {
		if !strings.Contains(log, want) {
			t.Errorf("no wrk call with %q:\n%s", want, log)
		}
	}
	n := 0
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "[") {
			n++
		}
	}
	if n != len(run.Figures) {
		t.Errorf("%d progress lines for %d figures:\n%s", n, len(run.Figures), out.String())
	}
}

// A deadline that leaves no room stops the run before it starts anything.
func TestRunStopsAtDeadline(t *testing.T) {
	fakeWrk(t)
	e := &Env{Proxies: []Proxy{{Name: "pilb", New: func() proxies.Proxy { return &fakeProxy{} }}}, Rounds: 1,
		Duration: time.Second, Clients: 1, Deadline: time.Now().Add(time.Second)}
	run := &results.Run{}
	if Run(context.Background(), e, []string{results.ScenarioConns}, run) || len(run.Figures) != 0 {
		t.Errorf("ran %d figures past the deadline", len(run.Figures))
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for round, want := range map[int]string{1: "abc", 2: "bca", 3: "cab", 4: "abc"} {
		if got := strings.Join(rotate(xs, round), ""); got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
	}
}

func TestExpected(t *testing.T) {
	e := &Env{Proxies: make([]Proxy, 3), Rounds: 3, Duration: 10 * time.Second, SlowlorisInterval: 2 * time.Second,
		TransferSize: 1 << 30, TransferRate: 2 << 20}
	// Three rounds of 512 s transfers and their warm-up, every proxy at once.
	if got, want := e.Expected([]string{results.ScenarioTransfer}), 3*(512*time.Second+transferWarm+measureSlack); got != want {
		t.Errorf("slowtransfer: %s, want %s", got, want)
	}
	if got := e.Expected(results.Scenarios); got < 30*time.Minute || got > 2*time.Hour {
		t.Errorf("everything: %s", got)
	}
}
