package report

import (
	"fmt"
	"strings"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// writeScaling writes, for every proxy measured at more than one loop
// count, how each count compares with one loop at the same size and
// concurrency: requests/s and CPU per request, and the efficiency both
// give. CPU per request (1 loop ÷ N loops) shows what running N loops
// costs per request even when the load generator, not the proxy, capped
// requests/s; requests/s ÷ (N × requests/s at 1) is the throughput view
// and reads low whenever the load side saturated first.
func writeScaling(md *strings.Builder, run *results.Run, points []results.Point) {
	var proxies []string
	for _, px := range run.Proxies() {
		if len(loopsOf(run, px)) > 1 {
			proxies = append(proxies, px)
		}
	}
	if len(proxies) == 0 {
		return
	}
	md.WriteString("## Scaling\n\n")
	md.WriteString("Each loop count against one loop at the same step (medians). Efficiency from CPU = CPU µs/req at 1 ÷ at N; " +
		"from req/s = req/s at N ÷ (N × req/s at 1). Where the load generator saturated first (cores well below N) only the CPU " +
		"figure says anything about the proxy.\n\n")
	md.WriteString("| proxy | response | conns | loops | req/s ×1 | req/s ×N | cores ×N | CPU µs/req ×1 | CPU µs/req ×N | efficiency (CPU) | efficiency (req/s) |\n")
	md.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, px := range proxies {
		loops := loopsOf(run, px)
		for _, size := range run.Sizes() {
			for _, one := range pointsOf(points, px, 1, size) {
				for _, n := range loops[1:] {
					p, ok := find(points, px, n, size, one.Conns)
					if !ok || !p.Clean || !one.Clean {
						continue
					}
					effCPU := "–"
					if p.CPUPerRequestUS.Median > 0 && one.CPUPerRequestUS.Median > 0 {
						effCPU = fmt.Sprintf("%.2f", one.CPUPerRequestUS.Median/p.CPUPerRequestUS.Median)
					}
					fmt.Fprintf(md, "| %s | %s | %d | %d | %.0f | %.0f | %.2f | %.1f | %.1f | %s | %.2f |\n", px, sizeName(size), one.Conns, n,
						one.RPS.Median, p.RPS.Median, p.ProxyCores.Median, one.CPUPerRequestUS.Median, p.CPUPerRequestUS.Median,
						effCPU, p.RPS.Median/(float64(n)*one.RPS.Median))
				}
			}
		}
	}
	md.WriteString("\n")
}
