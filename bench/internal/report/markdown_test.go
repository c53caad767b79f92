package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

func TestWriteReport(t *testing.T) {
	run := &results.Run{Kind: "compare", Started: time.Unix(0, 0), Finished: time.Unix(60, 0)}
	for _, px := range []struct {
		name  string
		scale float64
	}{{"pilb", 1.2}, {"nginx", 1}} {
		for _, c := range []int{1, 16, 64} {
			run.Steps = append(run.Steps, results.Step{Proxy: px.name, Loops: 1, Conns: c, RespBytes: 1024,
				Load:            load.Result{Requests: 1000, RPS: px.scale * float64(1000*c), Latency: load.Latency{P99: 1 / px.scale}},
				CPUPerRequestUS: 10 / px.scale})
		}
	}
	run.Steps = append(run.Steps, results.Step{Proxy: "nginx", Loops: 1, Conns: 256, RespBytes: 1024, Err: "boom"})
	dir := t.TempDir()
	files, err := Write(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportName))
	for _, want := range []string{"## Ratios (pilb / other)", "| 1 KiB | 1 | 16 | 1.20 | 0.83 | 0.83 |",
		"**1.20**", "![Throughput, 1 KiB responses](throughput-1KiB.svg)", "failed: boom", "| pilb | 1 | 1 KiB | 76800 | 64 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if len(files) != 1+3+2 {
		t.Errorf("files %v", files)
	}
}

// Steps with errors or non-2xx responses are marked and kept out of the
// peak and the ratios: fast error answers are not throughput.
func TestReportSkipsUncleanSteps(t *testing.T) {
	step := func(px string, conns int, rps float64, errs, non2xx int64) results.Step {
		return results.Step{Proxy: px, Loops: 1, Conns: conns, RespBytes: 0, CPUPerRequestUS: 10,
			Load: load.Result{Requests: 1000, RPS: rps, Errors: errs, Non2xx: non2xx, Latency: load.Latency{P99: 1}}}
	}
	run := &results.Run{Kind: "compare", Steps: []results.Step{
		step("pilb", 16, 1000, 0, 0), step("pilb", 64, 9000, 5, 0),
		step("nginx", 16, 500, 0, 0), step("nginx", 64, 8000, 0, 7),
	}}
	dir := t.TempDir()
	if _, err := Write(dir, run); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ReportName))
	md := string(b)
	for _, want := range []string{"| pilb | 1 | 0 B | 1000 | 16 |", "| nginx | 1 | 0 B | 500 | 16 |",
		"| 0 B | 1 | 64 | – | – | – |", "| 0 B | 1 | 16 | 2.00 |", "| pilb ✗ | 1 | 64 | 1 | 9000 |", "| nginx ✗ | 1 | 64 | 1 | 8000 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| 9000 | 64 |") {
		t.Errorf("peak took the step with errors:\n%s", md)
	}
}

// With -tool wrk,hey there is one ratio table per tool, and none divides
// a wrk step by a hey one.
func TestRatiosPerTool(t *testing.T) {
	run := &results.Run{Kind: "compare"}
	for _, px := range []struct {
		label string
		rps   float64
	}{{"pilb", 3000}, {"nginx", 1000}, {"pilb/hey", 500}, {"nginx/hey", 250}} {
		run.Steps = append(run.Steps, results.Step{Proxy: px.label, Loops: 1, Conns: 16, RespBytes: 0, CPUPerRequestUS: 10,
			Load: load.Result{Requests: 1000, RPS: px.rps, Latency: load.Latency{P99: 1}}})
	}
	dir := t.TempDir()
	if _, err := Write(dir, run); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ReportName))
	md := string(b)
	for _, want := range []string{"## Ratios (pilb / other), wrk", "## Ratios (pilb / other), hey", "| 0 B | 1 | 16 | 3.00 |", "| 0 B | 1 | 16 | 2.00 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "latency-pilb-hey-l1-0B.svg")); err != nil {
		t.Error(err)
	}
	if strings.Contains(md, "÷ pilb/hey") || strings.Contains(md, "÷ nginx/hey") || strings.Count(md, "## Ratios") != 2 {
		t.Errorf("ratio tables mix tools:\n%s", md)
	}
}

// The report says which memory figure it shows.
func TestReportNamesMemoryKind(t *testing.T) {
	for kind, want := range map[string]string{"PSS": "largest PSS (", "": "largest RSS ("} {
		run := &results.Run{Steps: []results.Step{{Proxy: "nginx", Loops: 1, Conns: 1, ProxyMemBytes: 3 << 20, ProxyMemKind: kind,
			Load: load.Result{Requests: 10, RPS: 10}}}}
		dir := t.TempDir()
		if _, err := Write(dir, run); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, ReportName))
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), "| 3.0 |") {
			t.Errorf("kind %q: report lacks %q:\n%s", kind, want, b)
		}
	}
}

// With rounds, the report shows medians with min–max, takes ratios round
// by round, names the pilb commit and each host's CPU, and prints the
// scaling between loop counts.
func TestReportRoundsAndScaling(t *testing.T) {
	run := &results.Run{Kind: "compare", Rounds: 3, Pilb: &procstat.Build{GoVersion: "go1.26.8", Revision: "1b761e9aaaaaaaaa", Modified: true},
		Machine: procstat.Machine{Hostname: "vm", CPUModel: "AMD EPYC", Arch: "amd64", CPUs: 2, ThreadsPerCore: 1, Kernel: "6.18", Governor: "none",
			Tools: map[string]string{"nginx": "nginx version: nginx/1.22.1"}}}
	step := func(px string, loops, round int, rps, cpu float64) results.Step {
		return results.Step{Proxy: px, Loops: loops, Conns: 64, Round: round, CPUPerRequestUS: cpu, ProxyCores: rps * cpu / 1e6,
			Load: load.Result{Requests: 1000, RPS: rps, Latency: load.Latency{P99: 2}}}
	}
	for r, x := range []struct{ pilb, nginx float64 }{{100000, 80000}, {90000, 60000}, {110000, 100000}} {
		run.Steps = append(run.Steps, step("pilb", 1, r+1, x.pilb, 9), step("nginx", 1, r+1, x.nginx, 12))
	}
	for r := range 3 {
		run.Steps = append(run.Steps, step("pilb", 2, r+1, 150000, 10))
	}
	dir := t.TempDir()
	if _, err := Write(dir, run); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ReportName))
	md := string(b)
	for _, want := range []string{
		"- pilb: commit 1b761e9aaaaa (dirty: uncommitted changes), go1.26.8",
		"AMD EPYC (amd64), 2 CPUs, 1 thread per core", "governor none", "nginx: nginx version: nginx/1.22.1",
		"every step ran 3 times",
		"| pilb | 1 | 0 B | 100000 (90000–110000) | 64 |",
		// Round by round: 1.25, 1.5, 1.1 -> median 1.25, not 100000/80000 of the medians (also 1.25) by chance:
		"| 0 B | 1 | 64 | 1.25 (1.10–1.50) |",
		"## Scaling", "| pilb | 0 B | 64 | 2 | 100000 | 150000 | 1.50 | 9.0 | 10.0 | 0.90 | 0.75 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
