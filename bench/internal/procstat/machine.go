package procstat

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine is what a result needs to say about the host it was measured on.
type Machine struct {
	Hostname string `json:"hostname"`
	// CPUModel is /proc/cpuinfo's "model name", or on arm64 the core
	// named from its implementer and part ("Neoverse-V1").
	CPUModel string `json:"cpu_model"`
	// Arch is the Go architecture: amd64 or arm64.
	Arch string `json:"arch,omitempty"`
	CPUs int    `json:"cpus"`
	// ThreadsPerCore is how many CPUs share a core (2 with SMT or
	// hyper-threading); 0 when the kernel does not say.
	ThreadsPerCore int `json:"threads_per_core,omitempty"`
	// Governor is CPU 0's cpufreq scaling governor; "none" when the kernel
	// exposes no cpufreq (most VMs: the hypervisor sets the clock).
	Governor string `json:"governor,omitempty"`
	// InstanceType is the EC2 instance type from the DMI product name
	// when the host is an EC2 instance ("c7g.xlarge"), else empty.
	InstanceType string `json:"instance_type,omitempty"`
	Kernel       string `json:"kernel"`
	GoVersion    string `json:"go_version"`
	MemBytes     int64  `json:"mem_bytes"`
	// Tools maps a tool to its version line.
	Tools map[string]string `json:"tools"`
}

// sysRoot is where sysfs is read from: tests point it at a fixture.
var sysRoot = "/sys"

// Describe gathers the facts of this machine and the versions of tools.
func Describe(tools ...string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Arch: runtime.GOARCH, GoVersion: runtime.Version(), Tools: map[string]string{}}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = CPUModel(string(b))
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
	m.ThreadsPerCore = threadsPerCore()
	m.Governor = "none"
	if b, err := os.ReadFile(sysRoot + "/devices/system/cpu/cpu0/cpufreq/scaling_governor"); err == nil {
		m.Governor = strings.TrimSpace(string(b))
	}
	m.InstanceType = ec2InstanceType()
	for _, t := range tools {
		m.Tools[t] = ToolVersion(t)
	}
	return m
}

// armParts names the arm64 cores EC2 and common laptops use, by the
// "CPU implementer" and "CPU part" of /proc/cpuinfo (Arm's Technical
// Reference Manuals, MIDR_EL1).
var armParts = map[string]string{
	"0x41/0xd0c": "Arm Neoverse-N1 (Graviton2)",
	"0x41/0xd40": "Arm Neoverse-V1 (Graviton3)",
	"0x41/0xd4f": "Arm Neoverse-V2 (Graviton4)",
	"0x41/0xd49": "Arm Neoverse-N2",
	"0x41/0xd08": "Arm Cortex-A72",
	"0x41/0xd0b": "Arm Cortex-A76",
}

// CPUModel names the processor of a /proc/cpuinfo: its "model name"
// (x86), else the arm64 core from implementer and part.
func CPUModel(cpuinfo string) string {
	var impl, part string
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "CPU implementer":
			impl = v
		case "CPU part":
			part = v
		}
	}
	if impl == "" {
		return ""
	}
	if name, ok := armParts[impl+"/"+part]; ok {
		return name
	}
	return fmt.Sprintf("arm64 implementer %s part %s", impl, part)
}

// threadsPerCore counts CPU 0's siblings in its core.
func threadsPerCore() int {
	b, err := os.ReadFile(sysRoot + "/devices/system/cpu/cpu0/topology/thread_siblings_list")
	if err != nil {
		return 0
	}
	return CountCPUList(strings.TrimSpace(string(b)))
}

// CountCPUList counts the CPUs of a kernel CPU list ("0", "0-1", "0,64").
func CountCPUList(list string) int {
	n := 0
	for part := range strings.SplitSeq(list, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || hi < lo {
			return 0
		}
		n += hi - lo + 1
	}
	return n
}

// ec2InstanceType reads the DMI product name, which EC2 (Nitro) sets to
// the instance type, when the system vendor is Amazon EC2.
func ec2InstanceType() string {
	vendor, err := os.ReadFile(sysRoot + "/devices/virtual/dmi/id/sys_vendor")
	if err != nil || strings.TrimSpace(string(vendor)) != "Amazon EC2" {
		return ""
	}
	b, err := os.ReadFile(sysRoot + "/devices/virtual/dmi/id/product_name")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
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
