package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// Proxy is one proxy to measure.
type Proxy struct {
	// Name labels its figures: "pilb", "nginx", "haproxy", or
	// "pilb-base" for a second pilb build measured beside the first.
	Name string
	// New returns a proxy ready to Start; each round starts fresh ones.
	New func() proxies.Proxy
}

// Env is what the scenarios run with.
type Env struct {
	Proxies []Proxy
	// Backends is the pilb-backend fleet, host:port.
	Backends []string
	// ProxyCPUs is the taskset list of every proxy; LoadCPUs that of
	// wrk (the backends and this process run there too). Empty: no
	// pinning.
	ProxyCPUs, LoadCPUs string
	// ConnsPerBackend is as in compare: pilb -conns-per-backend, nginx
	// keepalive.
	ConnsPerBackend int
	// Dir is a scratch folder for configurations and logs.
	Dir string
	// Rounds is how many times each scenario runs.
	Rounds int
	// Duration is the length of every wrk run (10 s in issue 7).
	Duration time.Duration
	// Threads is wrk's thread count for the runs with thousands of
	// connections; the 64-connection runs use one, as compare does.
	Threads int
	// Clients is the connection count of conns8000 and idle8000.
	Clients int
	// Slowloris is the slowloris connection count, SlowlorisInterval the
	// time between two of their bytes, HeaderTimeout the proxies'.
	Slowloris         int
	SlowlorisInterval time.Duration
	HeaderTimeout     time.Duration
	// TransferSize is the body of each slow transfer, TransferRate the
	// bytes per second the slow side reads.
	TransferSize, TransferRate int64
	// Deadline stops the run before a measurement that would end after it.
	Deadline time.Time
	// Out receives the progress lines.
	Out io.Writer

	progress progress
}

// The fixed parameters of the scenarios, from issue 7.
const (
	connsTimeout     = 5 * time.Second // conns8000: wrk --timeout
	slowlorisWrk     = 64              // slowloris: the wrk load beside it
	downloadConns    = 1024            // downloads1024
	downloadSize     = 1 << 20         // downloads1024: each response
	downloadSlow     = 2 * time.Second // downloads1024: the latency counted as too slow
	cpuConns         = 64              // cpu64
	smallResponse    = 12              // conns8000, slowloris, idle8000, cpu64: the response body
	extraClients     = 1000            // room beyond Clients in the hostile configurations (slowloris, warm-up, checks)
	warmup           = time.Second     // wrk -c64 before each throughput measurement
	cpuWarmup        = 2 * time.Second // cpu64's warm-up, as compare's
	settle           = time.Second     // quiet before a memory baseline
	idleSettle       = 2 * time.Second // after the idle connections are open, before the memory is read
	idleParallel     = 256             // idle8000: connections being opened at once
	idleWarm         = 64              // idle8000: connections, one request each, before the baseline
	idleMaxTime      = 2 * time.Minute // idle8000: the opening of all connections
	slowlorisRampMax = 20 * time.Second
	measureSlack     = 10 * time.Second // a measurement's time beyond its load
	transferSlack    = time.Minute      // slowtransfer: beyond size/rate before a transfer is given up
	transferReport   = 30 * time.Second // slowtransfer: between two progress lines
	bytesPerMB       = 1e6
)

// Expected returns how long the scenarios take with env's settings, for
// the run's estimate and -max-time.
func (e *Env) Expected(names []string) time.Duration {
	n := time.Duration(len(e.Proxies) * e.Rounds)
	var d time.Duration
	for _, s := range names {
		switch s {
		case results.ScenarioConns, results.ScenarioDownloads:
			d += n * (e.Duration + warmup + measureSlack)
		case results.ScenarioSlowloris:
			d += n * (2*e.Duration + warmup + 2*e.SlowlorisInterval + 2*measureSlack)
		case results.ScenarioIdle:
			d += n * (settle + 2*idleSettle + e.Duration + measureSlack)
		case results.ScenarioTransfer:
			d += time.Duration(e.Rounds) * (e.transferTime() + transferWarm + measureSlack)
		case results.ScenarioCPU:
			d += n*(e.Duration+measureSlack) + time.Duration(len(e.Proxies))*cpuWarmup
		}
	}
	return d
}

func (e *Env) transferTime() time.Duration {
	return time.Duration(float64(e.TransferSize) / float64(e.TransferRate) * float64(time.Second))
}

// figuresPer is how many figures a scenario records per proxy and round.
func figuresPer(scenario string) int {
	if scenario == results.ScenarioTransfer {
		return 2
	}
	return 1
}

// Run runs the named scenarios in results.Scenarios order and appends
// their figures to run. It returns false when the deadline or ctx
// stopped it early.
func Run(ctx context.Context, e *Env, names []string, run *results.Run) bool {
	e.progress = progress{w: e.Out, began: time.Now()}
	for _, s := range names {
		e.progress.total += e.Rounds * len(e.Proxies) * figuresPer(s)
	}
	for _, s := range results.Scenarios {
		if !slices.Contains(names, s) {
			continue
		}
		var ok bool
		switch s {
		case results.ScenarioConns:
			ok = e.conns(ctx, run)
		case results.ScenarioSlowloris:
			ok = e.slowloris(ctx, run)
		case results.ScenarioIdle:
			ok = e.idle(ctx, run)
		case results.ScenarioTransfer:
			ok = e.transfer(ctx, run)
		case results.ScenarioDownloads:
			ok = e.downloads(ctx, run)
		case results.ScenarioCPU:
			ok = e.cpu(ctx, run)
		}
		if !ok {
			return false
		}
	}
	return true
}

// instance is one started proxy.
type instance struct {
	name string // the Proxy's Name
	px   proxies.Proxy
	addr string
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

// alive reports an error when a process of the proxy has exited.
func (in *instance) alive() error {
	for _, pid := range in.px.PIDs() {
		if _, err := procstat.ReadStat(pid); err != nil {
			return fmt.Errorf("the proxy exited (process %d): %w", pid, err)
		}
	}
	if len(in.px.PIDs()) == 0 {
		return errors.New("the proxy is not running")
	}
	return nil
}

// hostileConfig is the configuration of every scenario but cpu64: room
// for Clients and more. Only slowloris sets HeaderTimeout; elsewhere each
// proxy keeps its default, as issue 7 measured them.
func (e *Env) hostileConfig(backends []string) proxies.Config {
	return proxies.Config{Backends: backends, Loops: 1, CPUs: e.ProxyCPUs, ConnsPerBackend: e.ConnsPerBackend,
		MaxClients: e.Clients + extraClients}
}

// startAll starts one instance of every proxy with cfg, each on its own
// port and in its own folder (suffix tells several instances apart). A
// proxy that does not start is recorded as a failed figure by fail and
// left out.
func (e *Env) startAll(ctx context.Context, cfg proxies.Config, suffix string, fail func(p Proxy, err error)) []*instance {
	var out []*instance
	for _, p := range e.Proxies {
		port, err := proxies.FreePort()
		if err == nil {
			c := cfg
			c.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c.Dir = filepath.Join(e.Dir, "instances", strings.ReplaceAll(p.Name+suffix, " ", "-"))
			if err = os.MkdirAll(c.Dir, 0o755); err == nil {
				px := p.New()
				if err = px.Start(ctx, c); err == nil {
					out = append(out, &instance{name: p.Name, px: px, addr: c.Listen})
					continue
				}
			}
		}
		fail(p, fmt.Errorf("%s did not start: %w", p.Name, err))
	}
	return out
}

func stopAll(ins []*instance) {
	for _, in := range ins {
		_ = in.px.Stop()
	}
}

// rotate returns ins in round's order: the first rotates by one each
// round, so that no proxy always runs first.
func rotate[T any](xs []T, round int) []T {
	if len(xs) == 0 {
		return nil
	}
	k := (round - 1) % len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

// fits reports whether a measurement of d ends before the deadline.
func (e *Env) fits(ctx context.Context, d time.Duration) bool {
	return ctx.Err() == nil && !time.Now().Add(d).After(e.Deadline)
}

// record appends f to run and prints its progress line with the values
// named by keys.
func (e *Env) record(run *results.Run, f results.Figure, keys ...string) {
	run.Figures = append(run.Figures, f)
	e.progress.done++
	e.progress.print(f, keys)
}

// wrkResult is one wrk run against an instance with the proxy observed.
type wrkResult struct {
	res  load.Result
	cpu  float64 // proxy CPU seconds during the run
	wall float64 // seconds between the CPU samples
	peak procstat.Memory
}

// wrk runs spec against in while sampling the proxy's CPU time and
// memory. An error means the run measured nothing usable.
func (e *Env) wrk(ctx context.Context, in *instance, spec load.Spec) (wrkResult, error) {
	var w wrkResult
	if spec.Tool == "" {
		spec.Tool = "wrk"
	}
	spec.CPUs = e.LoadCPUs
	pids := in.px.PIDs()
	before, err := procstat.Read(pids...)
	if err != nil {
		return w, fmt.Errorf("proxy sample: %w", err)
	}
	watch := watchMemory(pids)
	w.res, err = load.Run(ctx, spec)
	peak, werr := watch.finish()
	after, aerr := procstat.Read(pids...)
	if err != nil {
		return w, err
	}
	if err := errors.Join(werr, aerr, in.alive()); err != nil {
		return w, err
	}
	w.cpu = after.CPUSeconds - before.CPUSeconds
	w.wall = after.At.Sub(before.At).Seconds()
	w.peak = peak
	return w, nil
}

// warm runs an untimed wrk -c64 against in.
func (e *Env) warm(ctx context.Context, in *instance, d time.Duration) {
	_, _ = load.Run(ctx, load.Spec{Tool: "wrk", URL: in.url(sizePath(smallResponse)), Conns: slowlorisWrk, Duration: d, Threads: 1, CPUs: e.LoadCPUs})
}

func sizePath(n int) string { return fmt.Sprintf("/bytes/%d", n) }

// loadValues fills the figures wrk measured.
func loadValues(v map[string]float64, r load.Result) {
	v[results.ValRPS] = r.RPS
	v[results.ValP50], v[results.ValP90], v[results.ValP99], v[results.ValMax] = r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max
	v[results.ValTimeouts] = float64(r.Socket.Timeout)
	v[results.ValSocketErrors] = float64(r.Socket.Connect + r.Socket.Read + r.Socket.Write)
	v[results.ValNon2xx] = float64(r.Non2xx)
}

// wrkValues fills the figures of a wrk run with the proxy observed: wrk's
// and the proxy's CPU time and peak memory.
func wrkValues(v map[string]float64, w wrkResult) {
	loadValues(v, w.res)
	if w.res.Requests > 0 {
		v[results.ValCPUPerReq] = w.cpu / float64(w.res.Requests) * 1e6
	}
	if w.wall > 0 {
		v[results.ValCores] = w.cpu / w.wall
	}
	v[results.ValPeakRSS] = float64(w.peak.RSS) / bytesPerMB
	if w.peak.PSS > 0 {
		v[results.ValPeakPSS] = float64(w.peak.PSS) / bytesPerMB
	}
}

// progress prints one line per figure.
type progress struct {
	w           io.Writer
	total, done int
	began       time.Time
}

func (p *progress) print(f results.Figure, keys []string) {
	if p.w == nil {
		return
	}
	elapsed := time.Since(p.began)
	left := ""
	if p.done > 0 && p.total > p.done {
		left = fmt.Sprintf(", ~%s left", (elapsed / time.Duration(p.done) * time.Duration(p.total-p.done)).Round(time.Second))
	}
	label := f.Proxy
	if f.Variant != "" {
		label += " " + f.Variant
	}
	head := fmt.Sprintf("[%d/%d %s%s] %s r%d %s", p.done, p.total, elapsed.Round(time.Second), left, f.Scenario, f.Round, label)
	if f.Err != "" {
		fmt.Fprintf(p.w, "%s FAILED: %s\n", head, f.Err)
		return
	}
	if len(keys) == 0 {
		for k := range f.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	var parts []string
	for _, k := range keys {
		if v, ok := f.Values[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", k, strconv.FormatFloat(v, 'f', decimals(v), 64)))
		}
	}
	fmt.Fprintf(p.w, "%s  %s\n", head, strings.Join(parts, "  "))
}

// decimals prints large figures whole and small ones with three
// significant digits or so.
func decimals(v float64) int {
	switch a := max(v, -v); {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

// note prints a line between the figures.
func (e *Env) note(format string, args ...any) {
	if e.Out != nil {
		fmt.Fprintf(e.Out, format+"\n", args...)
	}
}
