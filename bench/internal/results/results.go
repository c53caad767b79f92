// Package results holds the data of a benchmark run and reads and writes
// it as results.json in a results folder.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
)

// FileName is the name of the results file in a results folder.
const FileName = "results.json"

// Run is one invocation of pilb-bench local, compare or remote.
type Run struct {
	Kind     string           `json:"kind"` // local, compare, remote or hostile
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Machine  procstat.Machine `json:"machine"`
	// Args is the command line, flags included.
	Args []string `json:"args"`
	// Flags is every flag with its effective value.
	Flags map[string]string `json:"flags"`
	// Layout says what ran where (CPU pinning), for the report.
	Layout string `json:"layout"`
	// Rounds is how many times each step ran, the proxies interleaved
	// within each round; 0 in older results (one run per step).
	Rounds int `json:"rounds,omitempty"`
	// Pilb is how the measured pilb binary was built (commit, dirty
	// tree, Go version); nil when pilb was not measured or unknown.
	Pilb *procstat.Build `json:"pilb_build,omitempty"`
	// ProxyMachine is the host the proxies ran on when it is not Machine
	// (remote: as the agent describes it); nil for local runs.
	ProxyMachine *procstat.Machine `json:"proxy_machine,omitempty"`
	Steps        []Step            `json:"steps"`
	// Figures are the measurements of a KindHostile run.
	Figures []Figure `json:"figures,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// ProxyHost is the machine the proxies ran on: ProxyMachine for a remote
// run with an agent, else Machine.
func (r *Run) ProxyHost() procstat.Machine {
	if r.ProxyMachine != nil {
		return *r.ProxyMachine
	}
	return r.Machine
}

// Step is one point of the ladder: one proxy, loop count, response size
// and concurrency.
type Step struct {
	Proxy     string `json:"proxy"` // pilb, nginx, haproxy or a remote name; see Label
	Loops     int    `json:"loops"` // event loops / workers / threads
	Conns     int    `json:"conns"`
	RespBytes int    `json:"resp_bytes"` // response body size
	// Round is which repetition of the step this is, from 1; 0 in
	// results from before rounds.
	Round int `json:"round,omitempty"`
	// Load is what the load generator measured.
	Load load.Result `json:"load"`
	// ProxyCPUSeconds is the proxy's user+system CPU time during the step.
	ProxyCPUSeconds float64 `json:"proxy_cpu_seconds"`
	// CPUPerRequestUS is ProxyCPUSeconds per completed request, in µs.
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	// ProxyCores is ProxyCPUSeconds over the step's wall time: how many
	// cores the proxy kept busy.
	ProxyCores float64 `json:"proxy_cores"`
	// ProxyMemBytes is the largest memory figure sampled during the
	// step, of kind ProxyMemKind. Its JSON name is from when only RSS was
	// recorded, so that older results.json files still load.
	ProxyMemBytes int64 `json:"proxy_rss_bytes"`
	// ProxyMemKind is "PSS" or "RSS" (procstat.MemPSS, MemRSS); empty in
	// older results, which recorded RSS.
	ProxyMemKind string `json:"proxy_mem_kind,omitempty"`
	// IRQCores is the proxy host's interrupt and softirq CPU time over
	// the step's wall time (a real NIC's work, in no process); 0 when
	// not measured (loopback runs, remote without an agent).
	IRQCores float64 `json:"irq_cores,omitempty"`
	// PacketsPerRequest is the proxy host's packets in and out over its
	// interfaces (loopback excepted) per completed request; 0 when not
	// measured.
	PacketsPerRequest float64 `json:"packets_per_request,omitempty"`
	// Err is set when the step failed; the other fields are then partial.
	Err string `json:"error,omitempty"`
}

// Label is a step's Proxy for proxy measured with tool: the proxy's name
// for wrk, the default tool, and "<proxy>/<tool>" for another.
func Label(proxy, tool string) string {
	if tool == "" || tool == "wrk" {
		return proxy
	}
	return proxy + "/" + tool
}

// SplitLabel undoes Label.
func SplitLabel(label string) (proxy, tool string) {
	if p, t, ok := strings.Cut(label, "/"); ok {
		return p, t
	}
	return label, "wrk"
}

// OK reports whether the step measured something usable.
func (s Step) OK() bool { return s.Err == "" && s.Load.Requests > 0 }

// Clean reports whether the step is OK and every request succeeded: no
// socket errors and no non-2xx responses. Only clean steps are a proxy's
// capacity; errors answered fast inflate requests/s.
func (s Step) Clean() bool { return s.OK() && s.Load.Errors == 0 && s.Load.Non2xx == 0 }

// Write writes run to dir/results.json, creating dir.
func Write(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, FileName), append(b, '\n'), 0o644)
}

// Load reads a results folder (or a results.json path).
func Load(path string) (*Run, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return &run, nil
}

// Proxies returns the proxy names in order of first appearance.
func (r *Run) Proxies() []string {
	return Distinct(r.Steps, func(s Step) (string, bool) { return s.Proxy, true })
}

// Sizes returns the response sizes in order of first appearance.
func (r *Run) Sizes() []int {
	return Distinct(r.Steps, func(s Step) (int, bool) { return s.RespBytes, true })
}

// Distinct returns key's value for every step where key's bool is true,
// each value once, in order of first appearance.
func Distinct[T comparable](steps []Step, key func(Step) (T, bool)) []T {
	var out []T
	seen := map[T]bool{}
	for _, s := range steps {
		if v, ok := key(s); ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Find returns the step for proxy, loops, size and conns.
func (r *Run) Find(proxy string, loops, size, conns int) (Step, bool) {
	for _, s := range r.Steps {
		if s.Proxy == proxy && s.Loops == loops && s.RespBytes == size && s.Conns == conns {
			return s, true
		}
	}
	return Step{}, false
}
