package procstat

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine is what a result needs to say about the host it was measured on.
type Machine struct {
	Hostname  string            `json:"hostname"`
	CPUModel  string            `json:"cpu_model"`
	CPUs      int               `json:"cpus"`
	Kernel    string            `json:"kernel"`
	GoVersion string            `json:"go_version"`
	MemBytes  int64             `json:"mem_bytes"`
	Tools     map[string]string `json:"tools"` // tool -> version line
}

// Describe gathers the facts of this machine and the versions of tools.
func Describe(tools ...string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Tools: map[string]string{}}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
				m.MemBytes = kb << 10
				break
			}
		}
		f.Close()
	}
	for _, t := range tools {
		m.Tools[t] = ToolVersion(t)
	}
	return m
}

// ToolVersion returns the first line a tool prints about its version, or
// "not installed".
func ToolVersion(tool string) string {
	args := map[string][]string{"wrk": {"-v"}, "nginx": {"-v"}, "haproxy": {"-v"}, "hey": nil}
	a, ok := args[tool]
	if !ok {
		a = []string{"-version"}
	}
	if _, err := exec.LookPath(tool); err != nil {
		return "not installed"
	}
	if a == nil {
		return "installed" // hey has no version flag
	}
	out, _ := exec.Command(tool, a...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
