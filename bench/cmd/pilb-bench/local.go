package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/suite"
)

// cmdLadder runs local (pilb only by default) or compare (pilb, nginx,
// haproxy) on this host, over loopback only.
func cmdLadder(kind string, args []string) error {
	fs := newFlagSet(kind)
	var lf ladderFlags
	lf.register(fs)
	defProxies := "pilb"
	if kind == "compare" {
		defProxies = "pilb,nginx,haproxy"
	}
	proxyList := fs.String("proxies", defProxies, "proxies to measure, comma-separated: pilb, nginx, haproxy")
	loops := intList{1}
	fs.Var(&loops, "loops", "proxy loop/worker/thread counts, comma-separated (1,2 measures the scaling loss the size model uses)")
	listen := fs.String("listen", "127.0.0.1:0", "proxy listen address, loopback only (port 0 picks a free one)")
	nBackends := fs.Int("backends", 2, "number of pilb-backend processes")
	backendLoops := fs.Int("backend-loops", 1, "event loops per backend")
	connsPerBackend := fs.Int("conns-per-backend", 64, "keep-alive connections per backend (pilb -conns-per-backend, nginx keepalive)")
	proxyCPUs := fs.String("proxy-cpus", "auto", "taskset CPU list for the proxy; auto = the first <loops> CPUs when enough remain")
	loadCPUs := fs.String("load-cpus", "auto", "taskset CPU list for wrk/hey and the backends; auto = the other CPUs")
	pilbBin := fs.String("pilb-bin", "", "pilb binary (default: go build ./cmd/pilb)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !proxies.IsLoopback(*listen) {
		return fmt.Errorf("%w: -listen %s is not a loopback address: %s only loads this machine over loopback (use remote)", errUsage, *listen, kind)
	}
	names := strings.Split(*proxyList, ",")
	for _, n := range names {
		if n != "pilb" && n != "nginx" && n != "haproxy" {
			return fmt.Errorf("%w: -proxies: unknown proxy %q", errUsage, n)
		}
	}
	// Pinning is planned per loop count: -loops 1,2 on 2 CPUs still pins
	// the one-loop runs. The backends run throughout, on the CPUs the
	// largest loop count that can be pinned leaves to the load side.
	ncpu := runtime.NumCPU()
	var notes, layouts []string
	backendCPUs, fit := "", 0
	for _, l := range loops {
		if l < 1 {
			return fmt.Errorf("%w: -loops must be ≥ 1", errUsage)
		}
		p, r, note := cpuPlan(ncpu, l, *proxyCPUs, *loadCPUs)
		if note != "" && !slices.Contains(notes, note) {
			notes = append(notes, note)
		}
		layouts = append(layouts, fmt.Sprintf("×%d: proxy on CPUs [%s], load generator on CPUs [%s]", l, orAll(p), orAll(r)))
		if r != "" && l > fit {
			backendCPUs, fit = r, l
		}
	}
	started := time.Now()
	deadline := started.Add(lf.maxTime)
	ladder, err := lf.ladder(deadline, "")
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelDeadline := context.WithDeadline(ctx, deadline.Add(time.Minute))
	defer cancelDeadline()

	ws, err := prepare(ctx, names, append([]string{"taskset"}, ladder.Tools...), "pilb-bench-", pilbBin)
	if ws.work != "" {
		defer os.RemoveAll(ws.work)
	}
	if err != nil {
		return err
	}
	root, work, backendBin, builtHere := ws.root, ws.work, ws.backendBin, ws.builtHere

	dir := outDir(root, lf.out, started)
	run := &results.Run{Kind: kind, Started: started, Args: append([]string{"pilb-bench"}, os.Args[1:]...), Flags: flagValues(fs),
		Machine: procstat.Describe("wrk", "hey", "nginx", "haproxy")}
	run.Rounds = ladder.Rounds
	if note := roundsNote(ladder.Rounds); note != "" {
		run.Notes = append(run.Notes, note)
	}
	if slices.Contains(names, "pilb") {
		b := pilbBuild(ctx, root, *pilbBin, builtHere)
		run.Pilb = &b
		run.Machine.Tools["pilb"] = b.String()
	}
	run.Layout = fmt.Sprintf("%s; %d backends (%d loop each) on CPUs [%s]; loopback",
		strings.Join(layouts, "; "), *nBackends, *backendLoops, orAll(backendCPUs))
	run.Notes = append(run.Notes, notes...)
	if busy := busyNote(); busy != "" {
		run.Notes = append(run.Notes, busy)
		fmt.Println("warning:", busy)
	}
	raiseNOFILE()
	fmt.Println(run.Layout)
	for _, note := range notes {
		fmt.Println("note:", note)
	}

	backends, err := proxies.StartBackends(ctx, backendBin, work, backendCPUs, *nBackends, *backendLoops)
	if err != nil {
		return err
	}
	defer backends.Stop()

	// All the proxies of a loop count run side by side, pinned to the
	// same CPUs, and the ladder loads one at a time: each step runs
	// -rounds times with the proxies interleaved, so a slow minute on a
	// shared machine costs every proxy alike and ratios come from the
	// same round.
	perProxy := len(ladder.Tools) * len(ladder.Sizes) * len(ladder.Conns) * ladder.Rounds
	pr := &suite.Progress{W: os.Stdout, Total: len(names) * len(loops) * perProxy}
	complete := true
	for _, l := range loops {
		pcpus, rcpus, _ := cpuPlan(ncpu, l, *proxyCPUs, *loadCPUs)
		var started []proxies.Proxy
		var targets []suite.Target
		for _, name := range names {
			listenAddr, err := resolveListen(*listen)
			if err != nil {
				stopAll(started)
				return err
			}
			var px proxies.Proxy
			switch name {
			case "pilb":
				px = &proxies.Pilb{Bin: *pilbBin}
			case "nginx":
				px = &proxies.Nginx{}
			case "haproxy":
				px = &proxies.HAProxy{}
			}
			cfg := proxies.Config{Listen: listenAddr, Backends: backends.Addrs, Loops: l, CPUs: pcpus,
				ConnsPerBackend: *connsPerBackend, Dir: work}
			fmt.Printf("starting %s ×%d on %s…\n", name, l, listenAddr)
			if err := px.Start(ctx, cfg); err != nil {
				msg := fmt.Sprintf("%s ×%d did not start: %v", name, l, err)
				fmt.Println("  ", msg)
				run.Notes = append(run.Notes, msg)
				pr.Total -= perProxy
				continue
			}
			started = append(started, px)
			targets = append(targets, suite.Target{Name: name, Loops: l, BaseURL: "http://" + listenAddr,
				Sample: func() (procstat.Sample, error) { return procstat.Read(px.PIDs()...) }})
		}
		lad := ladder
		lad.CPUs = rcpus
		ok := len(targets) == 0 || suite.Run(ctx, targets, lad, run, pr)
		stopAll(started)
		if !ok {
			complete = false
			break
		}
	}
	if !complete {
		run.Notes = append(run.Notes, fmt.Sprintf("stopped early (deadline -max-time %s or interrupt) after %d steps", lf.maxTime, len(run.Steps)))
	}
	// Write what was measured even after an interrupt.
	return finish(dir, run)
}

// stopAll stops the proxies a loop count started.
func stopAll(started []proxies.Proxy) {
	for _, px := range started {
		_ = px.Stop()
	}
}

// resolveListen picks a free port for a :0 listen address: every proxy
// needs a concrete one in its config.
func resolveListen(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%w: -listen %q: %v", errUsage, listen, err)
	}
	if port != "0" {
		return listen, nil
	}
	p, err := proxies.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

func orAll(cpus string) string {
	if cpus == "" {
		return "any"
	}
	return cpus
}
