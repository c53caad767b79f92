package report

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// ReportName is the report file in a results folder.
const ReportName = "report.md"

// Write renders run as report.md and SVG plots in dir and returns the
// files it wrote.
func Write(dir string, run *results.Run) ([]string, error) {
	var md strings.Builder
	var files []string
	if run.Kind == results.KindHostile {
		writeHostile(&md, run)
		path := filepath.Join(dir, ReportName)
		return []string{path}, os.WriteFile(path, []byte(md.String()), 0o644)
	}
	plot := func(name string, p Plot) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, p.SVG(), 0o644); err != nil {
			return err
		}
		files = append(files, path)
		fmt.Fprintf(&md, "![%s](%s)\n\n", p.Title, name)
		return nil
	}

	writeHeader(&md, run)
	if kinds := memKinds(run); len(kinds) > 0 {
		fmt.Fprintf(&md, "Memory (mem MiB) is the proxy's largest %s during a step.\n\n", strings.Join(kinds, " or "))
	}

	proxies := run.Proxies()
	points := run.Points()
	md.WriteString("## Peak throughput\n\n")
	md.WriteString("Where each proxy saturates: the step with the most requests/s (median over its rounds) for each response size, " +
		"among steps without errors or non-2xx responses in any round. Figures are medians, with min–max over the rounds.\n\n")
	md.WriteString("| proxy | loops | response | peak req/s | at conns | p99 ms | CPU µs/req | proxy cores | mem MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, size := range run.Sizes() {
		for _, px := range proxies {
			for _, loops := range loopsOf(run, px) {
				if best, ok := peak(points, px, loops, size); ok {
					fmt.Fprintf(&md, "| %s | %d | %s | %s | %d | %s | %s | %.2f | %.1f |\n", px, loops, sizeName(size),
						best.RPS.Format("%.0f"), best.Conns, best.P99.Format("%.2f"), best.CPUPerRequestUS.Format("%.1f"),
						best.ProxyCores.Median, best.MemBytes.Median/(1<<20))
				}
			}
		}
	}
	md.WriteString("\n")

	// Ratios compare proxies measured by the same load generator only:
	// wrk and hey differ in overhead and in what they count.
	tools := results.Distinct(run.Steps, func(s results.Step) (string, bool) { _, t := results.SplitLabel(s.Proxy); return t, true })
	for _, tool := range tools {
		var same []string
		for _, px := range proxies {
			if _, t := results.SplitLabel(px); t == tool {
				same = append(same, px)
			}
		}
		if len(same) > 1 {
			writeRatios(&md, run, points, tool, same)
		}
	}
	writeScaling(&md, run, points)

	for _, size := range run.Sizes() {
		fmt.Fprintf(&md, "## Response %s\n\n", sizeName(size))
		tag := sizeTag(size)
		var thr, p99, cpu []Series
		for _, px := range proxies {
			pxLoops := loopsOf(run, px)
			for _, loops := range pxLoops {
				steps := pointsOf(points, px, loops, size)
				name := px
				if len(pxLoops) > 1 {
					name = fmt.Sprintf("%s ×%d", px, loops)
				}
				thr = append(thr, series(name, steps, func(p results.Point) float64 { return p.RPS.Median }))
				p99 = append(p99, series(name, steps, func(p results.Point) float64 { return p.P99.Median }))
				cpu = append(cpu, series(name, steps, func(p results.Point) float64 { return p.CPUPerRequestUS.Median }))
			}
		}
		if err := plot("throughput-"+tag+".svg", Plot{Title: "Throughput, " + sizeName(size) + " responses",
			XLabel: "concurrent connections", YLabel: "requests/s", LogX: true, Series: thr}); err != nil {
			return files, err
		}
		if err := plot("p99-"+tag+".svg", Plot{Title: "p99 latency, " + sizeName(size) + " responses",
			XLabel: "concurrent connections", YLabel: "ms", LogX: true, Series: p99}); err != nil {
			return files, err
		}
		if err := plot("cpu-"+tag+".svg", Plot{Title: "Proxy CPU per request, " + sizeName(size) + " responses",
			XLabel: "concurrent connections", YLabel: "µs CPU / request", LogX: true, Series: cpu}); err != nil {
			return files, err
		}
		for _, px := range proxies {
			for _, loops := range loopsOf(run, px) {
				steps := pointsOf(points, px, loops, size)
				pcts := []Series{
					series("p50", steps, func(p results.Point) float64 { return p.P50.Median }),
					series("p90", steps, func(p results.Point) float64 { return p.P90.Median }),
					series("p99", steps, func(p results.Point) float64 { return p.P99.Median }),
					series("p99.9", steps, func(p results.Point) float64 { return p.P999.Median }),
				}
				pcts[3].Dashed = true
				if allZero(steps, func(p results.Point) float64 { return p.P999.Median }) {
					pcts = pcts[:3] // not measured (hey): no line at zero
				}
				if err := plot(fmt.Sprintf("latency-%s-l%d-%s.svg", strings.ReplaceAll(px, "/", "-"), loops, tag), Plot{
					Title:  fmt.Sprintf("%s ×%d latency percentiles, %s", px, loops, sizeName(size)),
					XLabel: "concurrent connections", YLabel: "ms", LogX: true, Series: pcts}); err != nil {
					return files, err
				}
			}
		}
		md.WriteString("Rows marked ✗ had errors or non-2xx responses in some round: they are left out of the peak and ratio tables. " +
			"Medians over the rounds, min–max in brackets; errors and non-2xx summed.\n\n")
		md.WriteString("| proxy | loops | conns | rounds | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | non-2xx | CPU µs/req | cores | mem MiB |\n")
		md.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, p := range points {
			if p.RespBytes != size {
				continue
			}
			if p.RPS.N == 0 {
				fmt.Fprintf(&md, "| %s | %d | %d | %d | failed: %s ||||||||||\n", p.Proxy, p.Loops, p.Conns, len(p.Steps), oneLine(p.Failed))
				continue
			}
			p999 := "—" // not measured (hey)
			if p.P999.N > 0 {
				p999 = fmt.Sprintf("%.3f", p.P999.Median)
			}
			name := p.Proxy
			if !p.Clean {
				name += " ✗"
			}
			fmt.Fprintf(&md, "| %s | %d | %d | %d | %s | %.3f | %.3f | %s | %s | %d | %d | %s | %.2f | %.1f |\n",
				name, p.Loops, p.Conns, len(p.Steps), p.RPS.Format("%.0f"), p.P50.Median, p.P90.Median, p.P99.Format("%.3f"), p999,
				p.Errors, p.Non2xx, p.CPUPerRequestUS.Format("%.1f"), p.ProxyCores.Median, p.MemBytes.Median/(1<<20))
		}
		md.WriteString("\n")
	}
	path := filepath.Join(dir, ReportName)
	if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
		return files, err
	}
	return append([]string{path}, files...), nil
}

// peak returns the clean point with the highest median requests/s.
func peak(points []results.Point, proxy string, loops, size int) (results.Point, bool) {
	var best results.Point
	found := false
	for _, p := range pointsOf(points, proxy, loops, size) {
		if p.Clean && (!found || p.RPS.Median > best.RPS.Median) {
			best, found = p, true
		}
	}
	return best, found
}

// pointsOf returns the points of proxy, loops and size by concurrency.
func pointsOf(points []results.Point, proxy string, loops, size int) []results.Point {
	var out []results.Point
	for _, p := range points {
		if p.Proxy == proxy && p.Loops == loops && p.RespBytes == size {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b results.Point) int { return a.Conns - b.Conns })
	return out
}

// loopsOf returns the loop counts proxy was measured at, ascending.
func loopsOf(run *results.Run, proxy string) []int {
	out := results.Distinct(run.Steps, func(s results.Step) (int, bool) { return s.Loops, s.Proxy == proxy })
	slices.Sort(out)
	return out
}

func series(name string, points []results.Point, y func(results.Point) float64) Series {
	s := Series{Name: name}
	for _, p := range points {
		if p.RPS.N > 0 {
			s.X = append(s.X, float64(p.Conns))
			s.Y = append(s.Y, y(p))
		}
	}
	return s
}

// sizeName is a response size for people: "0 B", "1 KiB", "1 MiB".
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// sizeTag is a response size for file names: "0B", "1KiB".
func sizeTag(n int) string { return strings.ReplaceAll(sizeName(n), " ", "") }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// memKinds returns how the memory figures of run were measured, each
// explained: PSS counts pages shared by a proxy's processes once, RSS
// once per process (older results carry no kind: RSS).
func memKinds(run *results.Run) []string {
	kinds := results.Distinct(run.Steps, func(s results.Step) (string, bool) {
		return cmp.Or(s.ProxyMemKind, procstat.MemRSS), s.ProxyMemBytes > 0
	})
	for i, k := range kinds {
		switch k {
		case procstat.MemPSS:
			kinds[i] = "PSS (/proc/PID/smaps_rollup, summed over its processes: pages they share count once)"
		case procstat.MemRSS:
			kinds[i] = "RSS (/proc/PID/stat, summed over its processes: pages shared by nginx's master and workers count in each)"
		}
	}
	return kinds
}

// allZero reports whether f is zero for every point.
func allZero(points []results.Point, f func(results.Point) float64) bool {
	for _, p := range points {
		if f(p) != 0 {
			return false
		}
	}
	return true
}
