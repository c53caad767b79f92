package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// writeRatios writes the comparison table of proxies, all measured with
// tool: the base proxy (pilb when present) over each other, per step.
// Each ratio is taken round by round (base's round k over the other's
// round k, measured moments apart) and shown as the median with min–max;
// the geometric mean is over the steps' medians.
func writeRatios(md *strings.Builder, run *results.Run, points []results.Point, tool string, proxies []string) {
	base := proxies[0]
	if i := slices.Index(proxies, results.Label("pilb", tool)); i >= 0 {
		base = proxies[i]
	}
	var others []string
	for _, p := range proxies {
		if p != base {
			others = append(others, p)
		}
	}
	name := func(label string) string { p, _ := results.SplitLabel(label); return p }
	fmt.Fprintf(md, "## Ratios (%s / other), %s\n\n", name(base), tool)
	md.WriteString("Throughput above 1 and CPU per request or p99 below 1 favour " + name(base) +
		". Per step, every proxy loaded by " + tool + "; each ratio is the median of the per-round ratios (min–max).\n\n")
	md.WriteString("| response | loops | conns |")
	for _, o := range others {
		o = name(o)
		fmt.Fprintf(md, " req/s ÷ %s | CPU/req ÷ %s | p99 ÷ %s |", o, o, o)
	}
	md.WriteString("\n|---|---|---|" + strings.Repeat("---|---|---|", len(others)) + "\n")
	metrics := []func(results.Step) float64{
		func(s results.Step) float64 { return s.Load.RPS },
		func(s results.Step) float64 { return s.CPUPerRequestUS },
		func(s results.Step) float64 { return s.Load.Latency.P99 },
	}
	logSum := make([][3]float64, len(others))
	count := make([][3]int, len(others))
	for _, size := range run.Sizes() {
		for _, loops := range loopsOf(run, base) {
			for _, b := range pointsOf(points, base, loops, size) {
				fmt.Fprintf(md, "| %s | %d | %d |", sizeName(size), loops, b.Conns)
				for i, o := range others {
					op, ok := find(points, o, loops, size, b.Conns)
					if !ok || !op.Clean || !b.Clean {
						md.WriteString(" – | – | – |")
						continue
					}
					for k, f := range metrics {
						r := results.RoundRatios(b, op, f)
						if r.N == 0 {
							md.WriteString(" – |")
							continue
						}
						fmt.Fprintf(md, " %s |", r.Format("%.2f"))
						logSum[i][k] += math.Log(r.Median)
						count[i][k]++
					}
				}
				md.WriteString("\n")
			}
		}
	}
	md.WriteString("| **geometric mean** | | |")
	for i := range others {
		for k := range 3 {
			if count[i][k] == 0 {
				md.WriteString(" – |")
				continue
			}
			fmt.Fprintf(md, " **%.2f** |", math.Exp(logSum[i][k]/float64(count[i][k])))
		}
	}
	md.WriteString("\n\n")
}

// find returns the point of proxy, loops, size and conns.
func find(points []results.Point, proxy string, loops, size, conns int) (results.Point, bool) {
	for _, p := range points {
		if p.Proxy == proxy && p.Loops == loops && p.RespBytes == size && p.Conns == conns {
			return p, true
		}
	}
	return results.Point{}, false
}
