package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/report"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/suite"
)

// ladderFlags are the flags every measuring subcommand shares.
type ladderFlags struct {
	conns    intList
	sizes    intList
	tools    string
	duration time.Duration
	warmup   time.Duration
	threads  int
	rounds   int
	maxTime  time.Duration
	out      string
}

// Quick defaults: a full compare on a 2-core box in under ten minutes.
// The full ladder is -conns 1,4,16,64,256,1024 -sizes 0,1024,16384,1048576.
func (lf *ladderFlags) register(fs *flag.FlagSet) {
	lf.conns = intList{1, 16, 64, 256}
	lf.sizes = intList{0, 1024}
	fs.Var(&lf.conns, "conns", "concurrency ladder, comma-separated connection counts (full: 1,4,16,64,256,1024)")
	fs.Var(&lf.sizes, "sizes", "response body sizes in bytes, comma-separated (full: 0,1024,16384,1048576)")
	fs.StringVar(&lf.tools, "tool", "wrk", "load generators: wrk, hey or wrk,hey (hey's steps are labelled <proxy>/hey)")
	fs.DurationVar(&lf.duration, "duration", 5*time.Second, "load `time` per step")
	fs.DurationVar(&lf.warmup, "warmup", 2*time.Second, "untimed load before each proxy's ladder")
	fs.IntVar(&lf.threads, "threads", 1, "wrk threads")
	fs.IntVar(&lf.rounds, "rounds", defaultRounds, "times each step runs, the proxies interleaved in each round (the report shows the median and min–max)")
	fs.DurationVar(&lf.maxTime, "max-time", 20*time.Minute, "stop the whole run after this `time`, whatever is left")
	fs.StringVar(&lf.out, "out", "", "results `folder` (default bench/results/<timestamp>)")
}

func (lf *ladderFlags) ladder(deadline time.Time, loadCPUs string) (suite.Ladder, error) {
	tools := strings.Split(lf.tools, ",")
	for _, t := range tools {
		if t != "wrk" && t != "hey" {
			return suite.Ladder{}, fmt.Errorf("%w: -tool %q: want wrk, hey or wrk,hey", errUsage, t)
		}
	}
	if len(lf.conns) == 0 || len(lf.sizes) == 0 || lf.duration < time.Second {
		return suite.Ladder{}, fmt.Errorf("%w: need -conns, -sizes and -duration ≥ 1s", errUsage)
	}
	if lf.rounds < 1 {
		return suite.Ladder{}, fmt.Errorf("%w: -rounds %d: want ≥ 1 (%d gives a median and a range)", errUsage, lf.rounds, defaultRounds)
	}
	for _, c := range lf.conns {
		if c < 1 {
			return suite.Ladder{}, fmt.Errorf("%w: -conns %s: every connection count must be ≥ 1", errUsage, lf.conns.String())
		}
	}
	return suite.Ladder{Conns: lf.conns, Sizes: lf.sizes, Tools: tools, Duration: lf.duration, Warmup: lf.warmup,
		Threads: lf.threads, CPUs: loadCPUs, Deadline: deadline, Rounds: lf.rounds}, nil
}

// defaultRounds is how many times each step runs by default: three is
// the fewest that have a median distinct from both extremes.
const defaultRounds = 3

// roundsNote is the report's note on a run of fewer than defaultRounds
// rounds, or "".
func roundsNote(rounds int) string {
	if rounds >= defaultRounds {
		return ""
	}
	return fmt.Sprintf("-rounds %d: each step ran fewer than %d times, so its figures come without a meaningful spread", rounds, defaultRounds)
}

// intList is a comma-separated list of non-negative integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a non-negative integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// workspace is what a local run prepares before any proxy starts.
type workspace struct {
	root       string // the module's root
	work       string // a temporary folder for binaries and configs; the caller removes it
	backendBin string // pilb-backend, built from this tree
	builtHere  bool   // pilb was built from this tree, not given with -pilb-bin
}

// prepare installs what is missing of tools and of the proxies named
// (nginx, haproxy), builds pilb-backend into a new temporary folder
// (workPrefix*), and pilb there too unless *pilbBin names one or names
// leaves pilb out: *pilbBin is then the binary built.
func prepare(ctx context.Context, names, tools []string, workPrefix string, pilbBin *string) (workspace, error) {
	var ws workspace
	root, err := moduleRoot()
	if err != nil {
		return ws, err
	}
	ws.root = root
	for _, n := range names {
		if n != "pilb" {
			tools = append(tools, n)
		}
	}
	if err := proxies.EnsureTools(ctx, os.Stdout, tools...); err != nil {
		return ws, err
	}
	if ws.work, err = os.MkdirTemp("", workPrefix); err != nil {
		return ws, err
	}
	fmt.Println("building pilb-backend and pilb…")
	if ws.backendBin, err = build(ctx, root, "./cmd/pilb-backend", ws.work); err != nil {
		return ws, err
	}
	ws.builtHere = *pilbBin == ""
	if ws.builtHere && slices.Contains(names, "pilb") {
		if *pilbBin, err = build(ctx, root, "./cmd/pilb", ws.work); err != nil {
			return ws, fmt.Errorf("pilb does not build, so it cannot be measured (use -proxies nginx,haproxy meanwhile): %w", err)
		}
	}
	return ws, nil
}

// moduleRoot finds the directory of PILB's go.mod from the working
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/pilb-proxy/pilb") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run pilb-bench inside the PILB repository (no go.mod of github.com/pilb-proxy/pilb above %s)", dir)
		}
		dir = parent
	}
}

// build compiles a package of the module into dir and returns the binary.
func build(ctx context.Context, root, pkg, dir string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v: %s", pkg, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// outDir resolves the results folder.
func outDir(root, flagOut string, started time.Time) string {
	if flagOut != "" {
		return flagOut
	}
	return filepath.Join(root, "bench", "results", started.Format("20060102-150405"))
}

// flagValues records every flag's effective value.
func flagValues(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

// finish writes results.json and the report and prints where.
func finish(dir string, run *results.Run) error {
	run.Finished = time.Now()
	if err := results.Write(dir, run); err != nil {
		return err
	}
	files, err := report.Write(dir, run)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\nreport:  %s (%d plots)\n", filepath.Join(dir, results.FileName), files[0], len(files)-1)
	return nil
}

// busyNote describes what else keeps this machine busy: a benchmark
// sharing its cores with other work measures that work too.
func busyNote() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	load, _ := strconv.ParseFloat(f[0], 64)
	if load < 0.5 {
		return ""
	}
	return fmt.Sprintf("load average %.2f when the run started: other processes were competing for the CPUs, so the figures understate every proxy", load)
}

// raiseNOFILE lifts the soft descriptor limit to the hard one for the
// proxies and load generators the harness starts.
func raiseNOFILE() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// cpuPlan places a proxy of loops loops on n CPUs: the first loops CPUs
// are its own and the rest the load side's (load generator and backends)
// when at least one CPU remains. Otherwise nothing is pinned, and note
// says the proxy shares its CPUs with the load side. -proxy-cpus and
// -load-cpus other than auto are used as given, for every loop count.
func cpuPlan(n, loops int, proxyFlag, loadFlag string) (proxy, rest, note string) {
	if proxyFlag != "auto" || loadFlag != "auto" {
		return strings.TrimPrefix(proxyFlag, "auto"), strings.TrimPrefix(loadFlag, "auto"), ""
	}
	if loops > n-1 {
		return "", "", fmt.Sprintf("%d CPUs for %d proxy loops plus the load side: nothing is pinned at ×%d, so the proxy "+
			"shares its CPUs with wrk and the backends and its figures there include their contention (indicative only)", n, loops, loops)
	}
	proxy = cpuRange(0, loops-1)
	rest = cpuRange(loops, n-1)
	if n <= 2 {
		note = fmt.Sprintf("%d CPUs: the proxy has CPU %s to itself, but wrk and the backends share CPU %s — "+
			"a loopback benchmark on so few cores is indicative only (the load generator may saturate first)", n, proxy, rest)
	}
	return proxy, rest, note
}

func cpuRange(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// pilbBuild says which pilb was measured: the VCS stamp Go put in the
// binary, else, for a binary built here from root (GOFLAGS may hold
// -buildvcs=false), the commit and state of root's work tree.
func pilbBuild(ctx context.Context, root, bin string, builtHere bool) procstat.Build {
	b, err := procstat.GoBuild(bin)
	if err == nil && b.Revision != "" || !builtHere {
		return b
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		b.Revision = strings.TrimSpace(string(out))
		status, _ := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
		b.Modified = len(strings.TrimSpace(string(status))) > 0
	}
	return b
}
