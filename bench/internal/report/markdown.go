package report

import (
	"cmp"
	"fmt"
	"math"
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
	plot := func(name string, p Plot) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, p.SVG(), 0o644); err != nil {
			return err
		}
		files = append(files, path)
		fmt.Fprintf(&md, "![%s](%s)\n\n", p.Title, name)
		return nil
	}

	m := run.Machine
	fmt.Fprintf(&md, "# pilb-bench %s — %s\n\n", run.Kind, run.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&md, "- Machine: `%s`, %s, %d CPUs, %.1f GiB, kernel %s, %s\n", m.Hostname, m.CPUModel, m.CPUs,
		float64(m.MemBytes)/(1<<30), m.Kernel, m.GoVersion)
	for _, t := range sortedKeys(m.Tools) {
		fmt.Fprintf(&md, "- %s: %s\n", t, m.Tools[t])
	}
	if run.Layout != "" {
		fmt.Fprintf(&md, "- Layout: %s\n", run.Layout)
	}
	fmt.Fprintf(&md, "- Command: `%s`\n", strings.Join(run.Args, " "))
	fmt.Fprintf(&md, "- Duration: %s\n\n", run.Finished.Sub(run.Started).Round(1e9))
	for _, n := range run.Notes {
		fmt.Fprintf(&md, "> %s\n\n", n)
	}

	if kinds := memKinds(run); len(kinds) > 0 {
		fmt.Fprintf(&md, "Memory (mem MiB) is the proxy's largest %s during a step.\n\n", strings.Join(kinds, " or "))
	}

	proxies := run.Proxies()
	md.WriteString("## Peak throughput\n\n")
	md.WriteString("Where each proxy saturates: the step with the most requests/s for each response size, " +
		"among steps without errors or non-2xx responses.\n\n")
	md.WriteString("| proxy | loops | response | peak req/s | at conns | p99 ms | CPU µs/req | proxy cores | mem MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, size := range run.Sizes() {
		for _, px := range proxies {
			for _, loops := range loopsOf(run, px) {
				if best, ok := peak(run, px, loops, size); ok {
					fmt.Fprintf(&md, "| %s | %d | %s | %.0f | %d | %.2f | %.1f | %.2f | %.1f |\n", px, loops, sizeName(size),
						best.Load.RPS, best.Conns, best.Load.Latency.P99, best.CPUPerRequestUS, best.ProxyCores, mib(best.ProxyMemBytes))
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
			writeRatios(&md, run, tool, same)
		}
	}

	for _, size := range run.Sizes() {
		fmt.Fprintf(&md, "## Response %s\n\n", sizeName(size))
		tag := sizeTag(size)
		var thr, p99, cpu []Series
		for _, px := range proxies {
			pxLoops := loopsOf(run, px)
			for _, loops := range pxLoops {
				steps := stepsOf(run, px, loops, size)
				name := px
				if len(pxLoops) > 1 {
					name = fmt.Sprintf("%s ×%d", px, loops)
				}
				thr = append(thr, series(name, steps, func(s results.Step) float64 { return s.Load.RPS }))
				p99 = append(p99, series(name, steps, func(s results.Step) float64 { return s.Load.Latency.P99 }))
				cpu = append(cpu, series(name, steps, func(s results.Step) float64 { return s.CPUPerRequestUS }))
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
				steps := stepsOf(run, px, loops, size)
				pcts := []Series{
					series("p50", steps, func(s results.Step) float64 { return s.Load.Latency.P50 }),
					series("p90", steps, func(s results.Step) float64 { return s.Load.Latency.P90 }),
					series("p99", steps, func(s results.Step) float64 { return s.Load.Latency.P99 }),
					series("p99.9", steps, func(s results.Step) float64 { return s.Load.Latency.P999 }),
				}
				pcts[3].Dashed = true
				if allZero(steps, func(s results.Step) float64 { return s.Load.Latency.P999 }) {
					pcts = pcts[:3] // not measured (hey): no line at zero
				}
				if err := plot(fmt.Sprintf("latency-%s-l%d-%s.svg", strings.ReplaceAll(px, "/", "-"), loops, tag), Plot{
					Title:  fmt.Sprintf("%s ×%d latency percentiles, %s", px, loops, sizeName(size)),
					XLabel: "concurrent connections", YLabel: "ms", LogX: true, Series: pcts}); err != nil {
					return files, err
				}
			}
		}
		md.WriteString("Rows marked ✗ had errors or non-2xx responses: they are left out of the peak and ratio tables.\n\n")
		md.WriteString("| proxy | loops | conns | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | non-2xx | CPU µs/req | cores | mem MiB | MB/s |\n")
		md.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range run.Steps {
			if s.RespBytes != size {
				continue
			}
			if s.Err != "" {
				fmt.Fprintf(&md, "| %s | %d | %d | failed: %s |||||||||||\n", s.Proxy, s.Loops, s.Conns, oneLine(s.Err))
				continue
			}
			l := s.Load
			p999 := "—" // not measured (hey)
			if l.Latency.P999 > 0 {
				p999 = fmt.Sprintf("%.3f", l.Latency.P999)
			}
			name := s.Proxy
			if !s.Clean() {
				name += " ✗"
			}
			fmt.Fprintf(&md, "| %s | %d | %d | %.0f | %.3f | %.3f | %.3f | %s | %d | %d | %.1f | %.2f | %.1f | %.1f |\n",
				name, s.Loops, s.Conns, l.RPS, l.Latency.P50, l.Latency.P90, l.Latency.P99, p999,
				l.Errors, l.Non2xx, s.CPUPerRequestUS, s.ProxyCores, mib(s.ProxyMemBytes), l.BytesPerSec/1e6)
		}
		md.WriteString("\n")
	}
	path := filepath.Join(dir, ReportName)
	if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
		return files, err
	}
	return append([]string{path}, files...), nil
}

// writeRatios writes the comparison table of proxies, all measured with
// tool: the base proxy (pilb when present) over each other, per step.
func writeRatios(md *strings.Builder, run *results.Run, tool string, proxies []string) {
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
		". Per step, one loop/worker/thread each, every proxy loaded by " + tool + ".\n\n")
	md.WriteString("| response | conns |")
	for _, o := range others {
		o = name(o)
		fmt.Fprintf(md, " req/s ÷ %s | CPU/req ÷ %s | p99 ÷ %s |", o, o, o)
	}
	md.WriteString("\n|---|---|" + strings.Repeat("---|---|---|", len(others)) + "\n")
	logSum := make([][3]float64, len(others))
	count := make([]int, len(others))
	for _, size := range run.Sizes() {
		for _, s := range stepsOf(run, base, 1, size) {
			fmt.Fprintf(md, "| %s | %d |", sizeName(size), s.Conns)
			for i, o := range others {
				t, ok := run.Find(o, 1, size, s.Conns)
				if !ok || !t.Clean() || !s.Clean() {
					md.WriteString(" – | – | – |")
					continue
				}
				r := [3]float64{s.Load.RPS / t.Load.RPS, s.CPUPerRequestUS / t.CPUPerRequestUS, s.Load.Latency.P99 / t.Load.Latency.P99}
				fmt.Fprintf(md, " %.2f | %.2f | %.2f |", r[0], r[1], r[2])
				if finite(r[0]) && finite(r[1]) && finite(r[2]) && r[0] > 0 && r[1] > 0 && r[2] > 0 {
					for k := range 3 {
						logSum[i][k] += math.Log(r[k])
					}
					count[i]++
				}
			}
			md.WriteString("\n")
		}
	}
	md.WriteString("| **geometric mean** | |")
	for i := range others {
		if count[i] == 0 {
			md.WriteString(" – | – | – |")
			continue
		}
		for k := range 3 {
			fmt.Fprintf(md, " **%.2f** |", math.Exp(logSum[i][k]/float64(count[i])))
		}
	}
	md.WriteString("\n\n")
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// peak returns the clean step with the most requests/s.
func peak(run *results.Run, proxy string, loops, size int) (results.Step, bool) {
	var best results.Step
	found := false
	for _, s := range stepsOf(run, proxy, loops, size) {
		if s.Clean() && (!found || s.Load.RPS > best.Load.RPS) {
			best, found = s, true
		}
	}
	return best, found
}

func stepsOf(run *results.Run, proxy string, loops, size int) []results.Step {
	var out []results.Step
	for _, s := range run.Steps {
		if s.Proxy == proxy && s.Loops == loops && s.RespBytes == size {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b results.Step) int { return a.Conns - b.Conns })
	return out
}

// loopsOf returns the loop counts proxy was measured at, ascending.
func loopsOf(run *results.Run, proxy string) []int {
	out := results.Distinct(run.Steps, func(s results.Step) (int, bool) { return s.Loops, s.Proxy == proxy })
	slices.Sort(out)
	return out
}

func series(name string, steps []results.Step, y func(results.Step) float64) Series {
	s := Series{Name: name}
	for _, st := range steps {
		if st.OK() {
			s.X = append(s.X, float64(st.Conns))
			s.Y = append(s.Y, y(st))
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

func mib(b int64) float64 { return float64(b) / (1 << 20) }

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

// allZero reports whether f is zero for every step.
func allZero(steps []results.Step, f func(results.Step) float64) bool {
	for _, s := range steps {
		if f(s) != 0 {
			return false
		}
	}
	return true
}
