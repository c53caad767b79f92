package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/hostile"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// hostileFlags are pilb-bench hostile's flags.
type hostileFlags struct {
	scenarios, proxies         string
	rounds, threads            int
	duration                   time.Duration
	clients, slowloris         int
	slowlorisInterval          time.Duration
	headerTimeout              time.Duration
	transferSize, transferRate byteSize
	nBackends, backendLoops    int
	connsPerBackend            int
	proxyCPUs, loadCPUs        string
	pilbBin, baselineBin       string
	maxTime                    time.Duration
	out                        string
}

// The defaults are issue 7's "Measured targets".
func (hf *hostileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&hf.scenarios, "scenarios", strings.Join(results.Scenarios, ","), "scenarios to run, comma-separated: "+strings.Join(results.Scenarios, ", "))
	fs.StringVar(&hf.proxies, "proxies", "pilb,nginx,haproxy", "proxies to measure, comma-separated: pilb, nginx, haproxy")
	fs.IntVar(&hf.rounds, "rounds", defaultRounds, "times each scenario runs, the proxies interleaved in each round (the report shows the median and min–max)")
	fs.DurationVar(&hf.duration, "duration", 10*time.Second, "`time` of every wrk run")
	fs.IntVar(&hf.threads, "threads", 2, "wrk threads for conns8000 and downloads1024 (the 64-connection runs use 1, as compare)")
	fs.IntVar(&hf.clients, "clients", 8000, "connections of conns8000 and idle8000")
	fs.IntVar(&hf.slowloris, "slowloris", 1000, "slowloris connections")
	fs.DurationVar(&hf.slowlorisInterval, "slowloris-interval", 2*time.Second, "`time` between two bytes of a slowloris request head")
	fs.DurationVar(&hf.headerTimeout, "header-timeout", 5*time.Second, "`time` every proxy gives a client to send a request head in slowloris (pilb -header-timeout, HAProxy timeout http-request, nginx client_header_timeout); the other scenarios keep each proxy's default")
	hf.transferSize, hf.transferRate = 1<<30, 2<<20
	fs.Var(&hf.transferSize, "transfer-size", "`bytes` of each slowtransfer body (1GiB; 64MiB for a quick run), with a KiB, MiB or GiB suffix or none")
	fs.Var(&hf.transferRate, "transfer-rate", "`bytes` per second the slow side of a slowtransfer reads")
	fs.IntVar(&hf.nBackends, "backends", 2, "number of pilb-backend processes")
	fs.IntVar(&hf.backendLoops, "backend-loops", 1, "event loops per backend")
	fs.IntVar(&hf.connsPerBackend, "conns-per-backend", 64, "keep-alive connections per backend (pilb -conns-per-backend, nginx keepalive)")
	fs.StringVar(&hf.proxyCPUs, "proxy-cpus", "auto", "taskset CPU list for the proxies; auto = CPU 0 when another remains")
	fs.StringVar(&hf.loadCPUs, "load-cpus", "auto", "taskset CPU list for wrk, the backends and this program's own clients; auto = the other CPUs")
	fs.StringVar(&hf.pilbBin, "pilb-bin", "", "pilb binary (default: go build ./cmd/pilb)")
	fs.StringVar(&hf.baselineBin, "baseline-bin", "", "a second pilb binary (say, main before a change) measured beside the first as pilb-base")
	fs.DurationVar(&hf.maxTime, "max-time", 90*time.Minute, "stop the whole run after this `time`, whatever is left")
	fs.StringVar(&hf.out, "out", "", "results `folder` (default bench/results/<timestamp>-hostile; keep one as bench/reports/<date>-hostile)")
}

// check validates the flags and returns the scenarios and proxies.
func (hf *hostileFlags) check() (scenarios, names []string, err error) {
	for s := range strings.SplitSeq(hf.scenarios, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(results.Scenarios, s) {
			return nil, nil, fmt.Errorf("%w: -scenarios: unknown scenario %q (want some of %s)", errUsage, s, strings.Join(results.Scenarios, ","))
		}
		if !slices.Contains(scenarios, s) {
			scenarios = append(scenarios, s)
		}
	}
	for n := range strings.SplitSeq(hf.proxies, ",") {
		if n != "pilb" && n != "nginx" && n != "haproxy" {
			return nil, nil, fmt.Errorf("%w: -proxies: unknown proxy %q", errUsage, n)
		}
		names = append(names, n)
	}
	switch {
	case hf.rounds < 1:
		return nil, nil, fmt.Errorf("%w: -rounds %d: want ≥ 1 (%d gives a median and a range)", errUsage, hf.rounds, defaultRounds)
	case hf.duration < time.Second:
		return nil, nil, fmt.Errorf("%w: -duration %s: want ≥ 1s (wrk counts whole seconds)", errUsage, hf.duration)
	case hf.threads < 1 || hf.clients < hf.threads || hf.slowloris < 1:
		return nil, nil, fmt.Errorf("%w: -threads, -clients and -slowloris must be ≥ 1, -clients ≥ -threads", errUsage)
	case hf.slowlorisInterval <= 0 || hf.headerTimeout <= 0:
		return nil, nil, fmt.Errorf("%w: -slowloris-interval and -header-timeout must be > 0", errUsage)
	case hf.transferSize < 1 || hf.transferRate < 1:
		return nil, nil, fmt.Errorf("%w: -transfer-size and -transfer-rate must be > 0", errUsage)
	case hf.nBackends < 1 || hf.backendLoops < 1 || hf.connsPerBackend < 1:
		return nil, nil, fmt.Errorf("%w: -backends, -backend-loops and -conns-per-backend must be ≥ 1", errUsage)
	case hf.baselineBin != "" && !slices.Contains(names, "pilb"):
		return nil, nil, fmt.Errorf("%w: -baseline-bin is measured beside pilb: -proxies must include pilb", errUsage)
	}
	return scenarios, names, nil
}

// cmdHostile runs the hostile-load scenarios of issue 7 against pilb,
// nginx and HAProxy on this host, over loopback only.
func cmdHostile(args []string) error {
	fs := newFlagSet("hostile")
	var hf hostileFlags
	hf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	scenarios, names, err := hf.check()
	if err != nil {
		return err
	}
	started := time.Now()
	deadline := started.Add(hf.maxTime)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelDeadline := context.WithDeadline(ctx, deadline.Add(time.Minute))
	defer cancelDeadline()

	ws, err := prepare(ctx, names, []string{"taskset", "wrk"}, "pilb-bench-hostile-", &hf.pilbBin)
	if ws.work != "" {
		defer os.RemoveAll(ws.work)
	}
	if err != nil {
		return err
	}
	root, work, backendBin, builtHere := ws.root, ws.work, ws.backendBin, ws.builtHere
	if hf.baselineBin != "" {
		if _, err := os.Stat(hf.baselineBin); err != nil {
			return fmt.Errorf("%w: -baseline-bin: %v", errUsage, err)
		}
	}

	pcpus, rest, note := cpuPlan(runtime.NumCPU(), 1, hf.proxyCPUs, hf.loadCPUs)
	dir := outDir(root, hf.out, started)
	if hf.out == "" {
		dir += "-hostile"
	}
	run := &results.Run{Kind: results.KindHostile, Started: started, Args: append([]string{"pilb-bench"}, os.Args[1:]...),
		Flags: flagValues(fs), Machine: procstat.Describe("wrk", "nginx", "haproxy"), Rounds: hf.rounds}
	if slices.Contains(names, "pilb") {
		b := pilbBuild(ctx, root, hf.pilbBin, builtHere)
		run.Pilb = &b
		run.Machine.Tools["pilb"] = b.String()
	}
	if hf.baselineBin != "" {
		b, _ := procstat.GoBuild(hf.baselineBin)
		run.Machine.Tools["pilb-base"] = b.String() + " (" + hf.baselineBin + ")"
	}
	run.Layout = fmt.Sprintf("every proxy with one loop/worker/thread on CPUs [%s]; wrk, %d backends (%d loop each) and pilb-bench's own clients on CPUs [%s]; loopback",
		orAll(pcpus), hf.nBackends, hf.backendLoops, orAll(rest))
	if note != "" {
		run.Notes = append(run.Notes, note)
	}
	if n := roundsNote(hf.rounds); n != "" {
		run.Notes = append(run.Notes, n)
	}
	raiseNOFILE()
	if slices.Contains(scenarios, results.ScenarioConns) || slices.Contains(scenarios, results.ScenarioIdle) {
		run.Notes = append(run.Notes, hostileLimits(hf.clients)...)
	}
	if busy := busyNote(); busy != "" {
		run.Notes = append(run.Notes, busy)
	}
	fmt.Println(run.Layout)
	for _, n := range run.Notes {
		fmt.Println("note:", n)
	}
	if rest != "" {
		if err := hostile.PinSelf(rest); err != nil {
			return err
		}
	}

	backends, err := proxies.StartBackends(ctx, backendBin, work, rest, hf.nBackends, hf.backendLoops)
	if err != nil {
		return err
	}
	defer backends.Stop()

	env := &hostile.Env{Backends: backends.Addrs, ProxyCPUs: pcpus, LoadCPUs: rest, ConnsPerBackend: hf.connsPerBackend,
		Dir: work, Rounds: hf.rounds, Duration: hf.duration, Threads: hf.threads, Clients: hf.clients,
		Slowloris: hf.slowloris, SlowlorisInterval: hf.slowlorisInterval, HeaderTimeout: hf.headerTimeout,
		TransferSize: int64(hf.transferSize), TransferRate: int64(hf.transferRate), Deadline: deadline, Out: os.Stdout}
	for _, n := range names {
		switch n {
		case "pilb":
			bin := hf.pilbBin
			env.Proxies = append(env.Proxies, hostile.Proxy{Name: "pilb", New: func() proxies.Proxy { return &proxies.Pilb{Bin: bin} }})
			if hf.baselineBin != "" {
				base := hf.baselineBin
				env.Proxies = append(env.Proxies, hostile.Proxy{Name: "pilb-base", New: func() proxies.Proxy { return &proxies.Pilb{Bin: base} }})
			}
		case "nginx":
			env.Proxies = append(env.Proxies, hostile.Proxy{Name: "nginx", New: func() proxies.Proxy { return &proxies.Nginx{} }})
		case "haproxy":
			env.Proxies = append(env.Proxies, hostile.Proxy{Name: "haproxy", New: func() proxies.Proxy { return &proxies.HAProxy{} }})
		}
	}
	expected := env.Expected(scenarios)
	fmt.Printf("scenarios %s, %d rounds, %d proxies: about %s\n", strings.Join(scenarios, ","), hf.rounds, len(env.Proxies), expected.Round(time.Second))
	if expected > hf.maxTime {
		fmt.Printf("warning: that is more than -max-time %s: the run will stop before the end\n", hf.maxTime)
	}
	if !hostile.Run(ctx, env, scenarios, run) {
		run.Notes = append(run.Notes, fmt.Sprintf("stopped early (deadline -max-time %s or interrupt) after %d figures", hf.maxTime, len(run.Figures)))
	}
	return finish(dir, run)
}

// hostileLimits are the notes on this machine's limits that shape the
// thousands-of-connections scenarios.
func hostileLimits(clients int) []string {
	var notes []string
	var r syscall.Rlimit
	// Each proxy holds a client and a backend descriptor per connection.
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Max < uint64(2*clients+2048) {
		notes = append(notes, fmt.Sprintf("RLIMIT_NOFILE hard limit %d is below 2 × %d clients plus spare: the proxies may refuse connections", r.Max, clients))
	}
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < clients {
			notes = append(notes, fmt.Sprintf("net.core.somaxconn is %d: when %d clients connect at once, the rest of them wait for SYN retransmits (1 s, 3 s…), "+
				"which shows in every proxy's p99 and timeouts alike", n, clients))
		}
	}
	return notes
}

// byteSize is a byte count flag: 1048576, 64KiB, 64MiB, 1GiB.
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	shift := uint(0)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = num, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return fmt.Errorf("%q is not a byte count (1048576, 64KiB, 64MiB, 1GiB)", s)
	}
	*b = byteSize(n << shift)
	return nil
}
