package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
)

// agentSample is the agent's /sample answer.
type agentSample struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	MemBytes   int64   `json:"mem_bytes"`
	MemKind    string  `json:"mem_kind"` // PSS or RSS
	PIDs       []int   `json:"pids"`
	// Host is the proxy host's interrupt time and packets; nil when
	// /proc/stat or /proc/net/dev could not be read.
	Host *procstat.Host `json:"host,omitempty"`
}

// agentInfo is the agent's /machine answer: the proxy host, and what
// each observed proxy is.
type agentInfo struct {
	Machine procstat.Machine `json:"machine"`
	// Versions maps an observed process name to its version: a Go
	// binary's VCS stamp (pilb), else the tool's version line.
	Versions map[string]string `json:"versions"`
	// Builds holds the build information of observed Go binaries.
	Builds map[string]procstat.Build `json:"builds,omitempty"`
}

// agentTimeout bounds each request to the agent: it answers from /proc in
// milliseconds, and a sample that comes late is worthless to the step.
const agentTimeout = 2 * time.Second

// agentSampler samples process (an observed name) through the agent at
// base.
func agentSampler(client *http.Client, base, process string) func() (procstat.Sample, error) {
	return func() (procstat.Sample, error) {
		resp, err := client.Get(base + "/sample?process=" + process)
		if err != nil {
			return procstat.Sample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return procstat.Sample{}, fmt.Errorf("agent: %s", resp.Status)
		}
		var a agentSample
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return procstat.Sample{}, err
		}
		return procstat.Sample{At: time.Now(), CPUSeconds: a.CPUSeconds, MemBytes: a.MemBytes, MemKind: a.MemKind,
			PIDs: a.PIDs, Host: a.Host}, nil
	}
}

func agentMachine(client *http.Client, base string) (agentInfo, error) {
	var m agentInfo
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

// cmdAgent serves /sample?process=NAME (CPU time and PSS, else RSS, of
// every process named NAME, with their children, and the host's
// interrupt time and packets) and /machine for remote.
func cmdAgent(args []string) error {
	fs := newFlagSet("agent")
	listen := fs.String("listen", ":9100", "listen `address`")
	processList := fs.String("process", "pilb", "process `names` (comm) to observe, comma-separated: pilb,nginx,haproxy")
	if err := parse(fs, args); err != nil {
		return err
	}
	names := strings.Split(*processList, ",")
	obs := map[string]*observed{}
	for _, n := range names {
		if n == "" {
			return fmt.Errorf("%w: -process %q: empty name", errUsage, *processList)
		}
		obs[n] = &observed{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sample", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("process")
		if name == "" {
			name = names[0]
		}
		o, ok := obs[name]
		if !ok {
			http.Error(w, fmt.Sprintf("not observing %q (agent -process %s)", name, *processList), http.StatusNotFound)
			return
		}
		s, pids, err := o.sample(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		a := agentSample{CPUSeconds: s.CPUSeconds, MemBytes: s.MemBytes, MemKind: s.MemKind, PIDs: pids}
		if h, err := procstat.ReadHost(); err == nil {
			a.Host = &h
		}
		_ = json.NewEncoder(w).Encode(a)
	})
	mux.HandleFunc("GET /machine", func(w http.ResponseWriter, _ *http.Request) {
		info := agentInfo{Machine: procstat.Describe(), Versions: map[string]string{}, Builds: map[string]procstat.Build{}}
		for _, n := range names {
			info.Versions[n] = procstat.ToolVersion(n)
			for _, pid := range procstat.FindByName(n) {
				if b, err := procstat.GoBuild("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil {
					info.Builds[n] = b
					info.Versions[n] = b.String()
				}
				break
			}
		}
		_ = json.NewEncoder(w).Encode(info)
	})
	fmt.Printf("pilb-bench agent on %s observing %s\n", *listen, strings.Join(names, ", "))
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// observed is the agent's list of the processes of one name. Walking
// /proc for them on every sample (every 200 ms during a step) costs CPU
// on the proxy host while it is measured, so the list is kept and only
// taken again when a process of it is gone: the proxy was restarted.
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
