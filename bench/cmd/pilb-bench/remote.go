package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/suite"
)

// remoteTarget is one proxy the load generator drives.
type remoteTarget struct {
	Name string // label, and the process name the agent observes
	URL  string
}

// parseTargets reads -target: one URL (labelled name), or
// name=URL,name=URL… for several proxies on the proxy host.
func parseTargets(list, name string) ([]remoteTarget, error) {
	var out []remoteTarget
	for item := range strings.SplitSeq(list, ",") {
		label, raw := name, item
		if l, r, ok := strings.Cut(item, "="); ok {
			label, raw = l, r
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%w: -target %q: %q is not an http URL", errUsage, list, raw)
		}
		if label == "" || strings.ContainsAny(label, "/ ") {
			return nil, fmt.Errorf("%w: -target %q: bad name %q", errUsage, list, label)
		}
		if slices.ContainsFunc(out, func(t remoteTarget) bool { return t.Name == label }) {
			return nil, fmt.Errorf("%w: -target %q: %s named twice (label each proxy: pilb=URL,nginx=URL)", errUsage, list, label)
		}
		out = append(out, remoteTarget{Name: label, URL: strings.TrimSuffix(raw, "/")})
	}
	return out, nil
}

// cmdRemote drives proxies on another host from this (load-generator)
// host, sampling their CPU through an agent.
func cmdRemote(args []string) error {
	fs := newFlagSet("remote")
	var lf ladderFlags
	lf.register(fs)
	target := fs.String("target", "", "proxy `URL`, or name=URL,name=URL… for several proxies on the proxy host, interleaved "+
		"(e.g. pilb=http://10.0.1.10:8080,nginx=http://10.0.1.10:8081); required unless -print")
	agent := fs.String("agent", "", "agent `URL` on the proxy host (pilb-bench agent), e.g. http://10.0.1.10:9100; empty = no CPU/memory figures")
	name := fs.String("name", "pilb", "label of the proxy when -target is one URL (also the process the agent observes)")
	loops := fs.Int("loops", 1, "loops/workers/threads the remote proxies run with (recorded, and used by -print)")
	print := fs.Bool("print", false, "print the commands for each host (Amazon Linux 2023 or Ubuntu) and the nginx and HAProxy configurations, and exit")
	arch := fs.String("arch", "arm64", "for -print: GOARCH of the hosts, arm64 (Graviton) or amd64")
	backendList := fs.String("backend-addrs", "10.0.1.20:5001,10.0.1.20:5002", "for -print: backend addresses (on the load generator by default)")
	loadCPUs := fs.String("load-cpus", "", "taskset CPU list for wrk on this host")
	instanceType := fs.String("proxy-instance-type", "", "EC2 type of the proxy host when the agent cannot tell (it reads DMI)")
	appendRun := fs.Bool("append", false, "add the steps to the results in -out (another loop count of the same proxy host) instead of starting a new folder")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *print {
		return printHosts(os.Stdout, *target, *agent, *arch, *loops, strings.Split(*backendList, ","), lf)
	}
	if *target == "" {
		return fmt.Errorf("%w: -target is required (or -print)", errUsage)
	}
	targets, err := parseTargets(*target, *name)
	if err != nil {
		return err
	}
	if *appendRun && lf.out == "" {
		return fmt.Errorf("%w: -append needs -out: the folder to add to", errUsage)
	}
	started := time.Now()
	ladder, err := lf.ladder(started.Add(lf.maxTime), *loadCPUs)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelDeadline := context.WithDeadline(ctx, ladder.Deadline)
	defer cancelDeadline()
	if err := proxies.EnsureTools(ctx, os.Stdout, ladder.Tools...); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		root = "."
	}
	dir := outDir(root, lf.out, started)
	run := &results.Run{Kind: "remote", Started: started, Args: append([]string{"pilb-bench"}, os.Args[1:]...), Flags: flagValues(fs),
		Machine: procstat.Describe("wrk", "hey"), Rounds: ladder.Rounds}
	var names []string
	for _, t := range targets {
		names = append(names, t.Name+" at "+t.URL)
	}
	run.Layout = fmt.Sprintf("load generator %s (this host) -> %s, ×%d each", run.Machine.Hostname, strings.Join(names, ", "), *loops)
	if note := roundsNote(ladder.Rounds); note != "" {
		run.Notes = append(run.Notes, note)
	}
	var sts []suite.Target
	client := &http.Client{Timeout: agentTimeout}
	base := strings.TrimSuffix(*agent, "/")
	for _, t := range targets {
		st := suite.Target{Name: t.Name, Loops: *loops, BaseURL: t.URL}
		if *agent != "" {
			st.Sample = agentSampler(client, base, t.Name)
			if _, err := st.Sample(); err != nil {
				return fmt.Errorf("agent %s observing %s: %w (start it with -process naming every proxy)", *agent, t.Name, err)
			}
		}
		sts = append(sts, st)
	}
	if *agent != "" {
		info, err := agentMachine(client, base)
		if err != nil {
			return fmt.Errorf("agent %s: %w", *agent, err)
		}
		m := info.Machine
		for k, v := range info.Versions {
			m.Tools[k] = v
		}
		if b, ok := info.Builds["pilb"]; ok {
			run.Pilb = &b
		}
		run.ProxyMachine = &m
	} else {
		run.Notes = append(run.Notes, "no -agent: proxy CPU per request, memory, interrupt CPU and packets were not measured")
	}
	if *instanceType != "" {
		if run.ProxyMachine == nil {
			run.ProxyMachine = &procstat.Machine{Tools: map[string]string{}}
		}
		run.ProxyMachine.InstanceType = *instanceType
	}
	if *appendRun {
		if run, err = appendTo(dir, run); err != nil {
			return err
		}
	}
	pr := &suite.Progress{W: os.Stdout, Total: len(sts) * len(ladder.Tools) * len(ladder.Sizes) * len(ladder.Conns) * ladder.Rounds}
	if !suite.Run(ctx, sts, ladder, run, pr) {
		run.Notes = append(run.Notes, "stopped early (deadline or interrupt)")
	}
	return finish(dir, run)
}

// appendTo returns the run in dir with cur's steps to come added to it:
// the 1..N scaling of one proxy host is measured one loop count at a
// time, restarting the proxy between them, into one folder.
func appendTo(dir string, cur *results.Run) (*results.Run, error) {
	prev, err := results.Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return cur, nil // the first of the series
	}
	if err != nil {
		return nil, err
	}
	if prev.Kind != "remote" {
		return nil, fmt.Errorf("%w: -append: %s holds a %s run, not a remote one", errUsage, filepath.Join(dir, results.FileName), prev.Kind)
	}
	if p, c := prev.ProxyHost(), cur.ProxyHost(); p.Hostname != c.Hostname || p.CPUModel != c.CPUModel {
		return nil, fmt.Errorf("%w: -append: %s was measured on %s (%s), this agent is on %s (%s): use another -out",
			errUsage, dir, p.Hostname, p.CPUModel, c.Hostname, c.CPUModel)
	}
	prev.Args = cur.Args
	prev.Layout += "; then " + cur.Layout
	prev.Notes = append(prev.Notes, fmt.Sprintf("steps added at %s: %s", cur.Started.Format(time.DateTime), strings.Join(cur.Args, " ")))
	prev.Notes = append(prev.Notes, cur.Notes...)
	if cur.Pilb != nil {
		prev.Pilb = cur.Pilb
	}
	return prev, nil
}
