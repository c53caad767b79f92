package report

import (
	"fmt"
	"strings"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// writeHeader says what was measured where: the pilb commit and whether
// its tree was dirty, every binary's version, and each host's CPU model,
// architecture, threads per core, kernel and frequency governor, so that
// a figure can be traced to what produced it.
func writeHeader(md *strings.Builder, run *results.Run) {
	fmt.Fprintf(md, "# pilb-bench %s — %s\n\n", run.Kind, run.Started.Format("2006-01-02 15:04 MST"))
	if run.Pilb != nil {
		fmt.Fprintf(md, "- pilb: %s\n", run.Pilb.String())
	}
	if run.ProxyMachine != nil {
		fmt.Fprintf(md, "- Proxy host: %s\n", machineLine(*run.ProxyMachine))
		writeTools(md, run.ProxyMachine.Tools, "  - ")
		fmt.Fprintf(md, "- Load generator: %s\n", machineLine(run.Machine))
		writeTools(md, run.Machine.Tools, "  - ")
	} else {
		fmt.Fprintf(md, "- Machine: %s\n", machineLine(run.Machine))
		writeTools(md, run.Machine.Tools, "- ")
	}
	if run.Layout != "" {
		fmt.Fprintf(md, "- Layout: %s\n", run.Layout)
	}
	if run.Rounds > 0 {
		fmt.Fprintf(md, "- Rounds: every step ran %d times, the proxies interleaved within each round (the first rotating); "+
			"figures are medians with min–max, ratios are taken round by round\n", run.Rounds)
	}
	fmt.Fprintf(md, "- Command: `%s`\n", strings.Join(run.Args, " "))
	fmt.Fprintf(md, "- Duration: %s\n\n", run.Finished.Sub(run.Started).Round(1e9))
	for _, n := range run.Notes {
		fmt.Fprintf(md, "> %s\n\n", n)
	}
}

// machineLine is one host on one line.
func machineLine(m procstat.Machine) string {
	parts := []string{"`" + m.Hostname + "`"}
	if m.InstanceType != "" {
		parts = append(parts, "EC2 "+m.InstanceType)
	}
	cpu := m.CPUModel
	if cpu == "" {
		cpu = "CPU model unknown"
	}
	if m.Arch != "" {
		cpu += " (" + m.Arch + ")"
	}
	parts = append(parts, cpu, fmt.Sprintf("%d CPUs", m.CPUs))
	switch m.ThreadsPerCore {
	case 0:
		parts = append(parts, "threads per core unknown")
	case 1:
		parts = append(parts, "1 thread per core")
	default:
		parts = append(parts, fmt.Sprintf("%d threads per core (SMT)", m.ThreadsPerCore))
	}
	if m.MemBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB", float64(m.MemBytes)/(1<<30)))
	}
	if m.Kernel != "" {
		parts = append(parts, "kernel "+m.Kernel)
	}
	if m.Governor != "" {
		parts = append(parts, "governor "+m.Governor)
	}
	if m.GoVersion != "" {
		parts = append(parts, m.GoVersion)
	}
	return strings.Join(parts, ", ")
}

func writeTools(md *strings.Builder, tools map[string]string, prefix string) {
	for _, t := range sortedKeys(tools) {
		fmt.Fprintf(md, "%s%s: %s\n", prefix, t, tools[t])
	}
}
