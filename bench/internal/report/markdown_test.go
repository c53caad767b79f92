package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
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
	for _, want := range []string{"## Ratios (pilb / other)", "| 1 KiB | 16 | 1.20 | 0.83 | 0.83 |",
		"**1.20**", "![Throughput, 1 KiB responses](throughput-1KiB.svg)", "failed: boom", "| pilb | 1 | 1 KiB | 76800 | 64 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if len(files) != 1+3+2 {
		t.Errorf("files %v", files)
	}
}
