package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// A hostile run on fixed figures: the summary, each proxy's medians,
// pilb's ratios and differences round by round, the target met or missed
// per round with the reason, and the failed round.
func TestWriteHostileReport(t *testing.T) {
	fig := func(sc, variant, proxy string, round int, vals map[string]float64) results.Figure {
		return results.Figure{Scenario: sc, Variant: variant, Proxy: proxy, Round: round, Values: vals}
	}
	conns := func(proxy string, round int, timeouts, p99, rss float64) results.Figure {
		return fig(results.ScenarioConns, "", proxy, round, map[string]float64{results.ValRPS: 1000, results.ValTimeouts: timeouts,
			results.ValP99: p99, results.ValPeakRSS: rss, results.ValCPUPerReq: 20})
	}
	growth := func(variant, proxy string, g float64) results.Figure {
		return fig(results.ScenarioTransfer, variant, proxy, 1, map[string]float64{results.ValGrowthPeak: g, results.ValRate: 2})
	}
	run := &results.Run{Kind: results.KindHostile, Started: time.Unix(0, 0), Finished: time.Unix(600, 0), Rounds: 3,
		Flags: map[string]string{"threads": "2", "clients": "8000", "duration": "10s", "transfer-size": "1GiB", "transfer-rate": "2MiB"},
		Figures: []results.Figure{
			conns("pilb", 1, 0, 10, 40), conns("haproxy", 1, 0, 12, 80),
			conns("haproxy", 2, 0, 12, 82), conns("pilb", 2, 3, 15, 45),
			{Scenario: results.ScenarioConns, Proxy: "pilb", Round: 3, Err: "the proxy exited (process 42)"}, conns("haproxy", 3, 0, 11, 81),
			growth(results.VariantDownload, "pilb", 1.5), growth(results.VariantDownload, "haproxy", 0.04),
			growth(results.VariantUpload, "pilb", 0.5), growth(results.VariantUpload, "haproxy", 0.05),
		}}
	dir := t.TempDir()
	files, err := Write(dir, run)
	if err != nil || len(files) != 1 {
		t.Fatalf("Write: %v, %v", files, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ReportName))
	md := string(b)
	for _, want := range []string{
		"# pilb-bench hostile",
		"| conns8000 | 0 timeouts, p99 ≤ HAProxy's, peak RSS ≤ 50 MB | timeouts 2 (0–3); p99 ms 12.5 (10.0–15.0); peak RSS MB 42.5 (40.0–45.0) |",
		"| slowtransfer download | RSS growth ≤ 1 MB | RSS growth MB 1.50 | RSS growth MB 0.04 | 0 of 1 |",
		"| slowtransfer upload | RSS growth ≤ 1 MB | RSS growth MB 0.50 | RSS growth MB 0.05 | 1 of 1 |",
		"`wrk -t2 -c8000 --timeout 5s` for 10s",
		"| pilb | 2/3 | 1000 (1000–1000) | 12.5 (10.0–15.0) |",
		"| pilb / haproxy | 1.00 (1.00–1.00) | 1.04 (0.83–1.25) | 0.52 (0.50–0.55) | 1.00 (1.00–1.00) |",
		"| pilb | 1 of 2 | r2: 3 timeouts, p99 15.0 ms > HAProxy's 12.0 |",
		"| haproxy | 0 of 3 | r1: peak RSS 80.0 MB; r2: peak RSS 82.0 MB; r3: peak RSS 81.0 MB |",
		"- pilb round 3 failed: the proxy exited (process 42)",
		"### download", "### upload",
		"| pilb − haproxy | +1.46 |",
		"a 1GiB body at 2MiB/s",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"## slowloris", "## idle8000", "Peak throughput"} {
		if strings.Contains(md, absent) {
			t.Errorf("report has %q, for which nothing ran", absent)
		}
	}
}
