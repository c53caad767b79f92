package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/suite"
)

// hostScript is what -print shows: the commands for each host.
var hostScript = template.Must(template.New("remote").Parse(`# pilb-bench remote: commands for each host (see bench/README.md, "Remote").
# Build once on a machine with Go, then copy the binaries:
#   GOOS=linux GOARCH={{.Arch}} go build -o pilb ./cmd/pilb
#   GOOS=linux GOARCH={{.Arch}} go build -o pilb-backend ./cmd/pilb-backend
#   GOOS=linux GOARCH={{.Arch}} go build -o pilb-bench ./bench/cmd/pilb-bench

# --- every host: raise limits (as root) ---
ulimit -n 1000000
sysctl -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
          net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
{{range .Backends}}
# --- backend host {{.Addr}} ---
./pilb-backend -listen {{.Addr}} -id {{.ID}} -loops {{$.BackendLoops}} -log-level warn
{{end}}
# --- proxy host {{.ProxyHost}} ---
./pilb -listen {{.ProxyListen}} -backends {{.BackendList}} -loops {{.Loops}} -conns-per-backend 64 -log-level warn &
./pilb-bench agent -listen :{{.AgentPort}} -process pilb &
#   (for nginx/haproxy instead: pilb-bench agent -process nginx | haproxy)

# --- load-generator host (this one) ---
apt-get install -y wrk
./pilb-bench remote -target {{.Target}} -agent {{.Agent}} -name pilb -loops {{.Loops}} -conns {{.Conns}} -sizes {{.Sizes}}
`))

// cmdRemote drives a proxy on another host from this (load-generator)
// host, sampling its CPU through an agent.
func cmdRemote(args []string) error {
	fs := newFlagSet("remote")
	var lf ladderFlags
	lf.register(fs)
	target := fs.String("target", "", "proxy `URL` on the proxy host, e.g. http://10.0.1.10:8080 (required unless -print)")
	agent := fs.String("agent", "", "agent `URL` on the proxy host (pilb-bench agent), e.g. http://10.0.1.10:9100; empty = no CPU/memory figures")
	name := fs.String("name", "pilb", "label of the proxy under test")
	loops := fs.Int("loops", 1, "loops/workers/threads the remote proxy runs with (recorded, and used by -print)")
	print := fs.Bool("print", false, "print the commands for each host and exit")
	backendList := fs.String("backend-addrs", "10.0.1.21:5000,10.0.1.22:5000", "backend addresses, for -print")
	loadCPUs := fs.String("load-cpus", "", "taskset CPU list for wrk on this host")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *print {
		return printHosts(os.Stdout, *target, *agent, *loops, strings.Split(*backendList, ","), lf)
	}
	if *target == "" {
		return fmt.Errorf("%w: -target is required (or -print)", errUsage)
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: -target %q is not a URL", errUsage, *target)
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
	run := &results.Run{Kind: "remote", Started: started, Args: append([]string{"pilb-bench"}, os.Args[1:]...), Flags: flagValues(fs),
		Machine: procstat.Describe("wrk", "hey")}
	run.Layout = fmt.Sprintf("load generator %s (this host) -> %s at %s", run.Machine.Hostname, *name, u.Host)
	t := suite.Target{Name: *name, Loops: *loops, BaseURL: strings.TrimSuffix(*target, "/")}
	if *agent != "" {
		client := &http.Client{Timeout: agentTimeout}
		t.Sample = agentSampler(client, strings.TrimSuffix(*agent, "/"))
		if _, err := t.Sample(); err != nil {
			return fmt.Errorf("agent %s: %w", *agent, err)
		}
		if m, err := agentMachine(client, strings.TrimSuffix(*agent, "/")); err == nil {
			run.Notes = append(run.Notes, fmt.Sprintf("proxy host: %s, %s, %d CPUs, kernel %s", m.Hostname, m.CPUModel, m.CPUs, m.Kernel))
		}
	} else {
		run.Notes = append(run.Notes, "no -agent: proxy CPU per request and memory were not measured")
	}
	pr := &suite.Progress{W: os.Stdout, Total: len(ladder.Tools) * len(ladder.Sizes) * len(ladder.Conns)}
	if !suite.Run(ctx, t, ladder, run, pr) {
		run.Notes = append(run.Notes, "stopped early (deadline or interrupt)")
	}
	return finish(outDir(root, lf.out, started), run)
}

// printHosts writes the per-host commands. Backends are labelled s1, s2 …
// as local labels them, so Server headers read the same in both.
func printHosts(w io.Writer, target, agent string, loops int, backends []string, lf ladderFlags) error {
	if target == "" {
		target = "http://10.0.1.10:8080"
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("%w: -target: %v", errUsage, err)
	}
	if agent == "" {
		agent = "http://" + u.Hostname() + ":9100"
	}
	au, _ := url.Parse(agent)
	type backend struct{ Addr, ID string }
	bs := make([]backend, len(backends))
	for i, b := range backends {
		bs[i] = backend{Addr: b, ID: fmt.Sprintf("s%d", i+1)}
	}
	return hostScript.Execute(w, map[string]any{
		"Arch": "arm64", "Backends": bs, "BackendList": strings.Join(backends, ","), "BackendLoops": 1,
		"ProxyHost": u.Hostname(), "ProxyListen": "0.0.0.0:" + u.Port(), "Loops": loops,
		"AgentPort": au.Port(), "Agent": agent, "Target": target, "Conns": lf.conns.String(), "Sizes": lf.sizes.String(),
	})
}

// agentSample is the agent's /sample answer.
type agentSample struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	MemBytes   int64   `json:"mem_bytes"`
	MemKind    string  `json:"mem_kind"` // PSS or RSS
	PIDs       []int   `json:"pids"`
}

// agentTimeout bounds each request to the agent: it answers from /proc in
// milliseconds, and a sample that comes late is worthless to the step.
const agentTimeout = 2 * time.Second

func agentSampler(client *http.Client, base string) func() (procstat.Sample, error) {
	return func() (procstat.Sample, error) {
		resp, err := client.Get(base + "/sample")
		if err != nil {
			return procstat.Sample{}, err
		}
		defer resp.Body.Close()
		var a agentSample
		if resp.StatusCode != http.StatusOK {
			return procstat.Sample{}, fmt.Errorf("agent: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return procstat.Sample{}, err
		}
		return procstat.Sample{At: time.Now(), CPUSeconds: a.CPUSeconds, MemBytes: a.MemBytes, MemKind: a.MemKind}, nil
	}
}

func agentMachine(client *http.Client, base string) (procstat.Machine, error) {
	var m procstat.Machine
	resp, err := client.Get(base + "/machine")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("agent: %s", resp.Status)
	}
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// cmdAgent serves /sample (CPU time and PSS, else RSS, of every process named
// -process, with their children) and /machine for remote.
func cmdAgent(args []string) error {
	fs := newFlagSet("agent")
	listen := fs.String("listen", ":9100", "listen `address`")
	process := fs.String("process", "pilb", "process `name` (comm) to observe: pilb, nginx or haproxy")
	if err := parse(fs, args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	var obs observed
	mux.HandleFunc("GET /sample", func(w http.ResponseWriter, _ *http.Request) {
		s, pids, err := obs.sample(*process)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(agentSample{CPUSeconds: s.CPUSeconds, MemBytes: s.MemBytes, MemKind: s.MemKind, PIDs: pids})
	})
	mux.HandleFunc("GET /machine", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(procstat.Describe())
	})
	fmt.Printf("pilb-bench agent on %s observing %q\n", *listen, *process)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// observed is the agent's list of the observed processes. Walking /proc
// for them on every sample (every 200 ms during a step) costs CPU on the
// proxy host while it is measured, so the list is kept and only taken
// again when a process of it is gone: the proxy was restarted.
type observed struct {
	mu   sync.Mutex
	pids []int
}

// sample reads the processes named name and their descendants. A
// process of a fresh list that exits before it is read is normal (a
// short-lived helper of the same name, a worker being replaced) and is
// left out; a process of the kept list that is gone means the proxy was
// restarted, and the list is taken again.
func (o *observed) sample(name string) (procstat.Sample, []int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pids) > 0 {
		if s, err := procstat.Read(o.pids...); err == nil {
			return s, o.pids, nil
		} else if !errors.Is(err, procstat.ErrGone) {
			return s, nil, err
		}
	}
	o.pids = nil
	var found []int
	for _, p := range procstat.FindByName(name) {
		for _, q := range procstat.Tree(p) {
			if !slices.Contains(found, q) {
				found = append(found, q)
			}
		}
	}
	if len(found) == 0 {
		return procstat.Sample{}, nil, fmt.Errorf("no process named %s", name)
	}
	s, live, err := procstat.ReadLive(found...)
	if errors.Is(err, procstat.ErrGone) {
		return s, nil, fmt.Errorf("no process named %s (the ones listed exited)", name)
	}
	if err != nil {
		return s, nil, err
	}
	o.pids = live
	return s, live, nil
}
