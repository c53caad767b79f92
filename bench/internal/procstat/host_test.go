package procstat

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// A process that exits between being listed and being read is left out
// by ReadLive; Read reports it as ErrGone.
func TestReadLiveSkipsGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid // reaped: its /proc entry is gone
	if _, err := Read(os.Getpid(), dead); !errors.Is(err, ErrGone) {
		t.Errorf("Read with an exited process: err = %v, want ErrGone", err)
	}
	s, live, err := ReadLive(dead, os.Getpid())
	if err != nil || !slices.Equal(live, []int{os.Getpid()}) || s.MemBytes <= 0 {
		t.Errorf("ReadLive = %+v, %v, %v; want this process only", s, live, err)
	}
	if _, _, err := ReadLive(dead); !errors.Is(err, ErrGone) {
		t.Errorf("ReadLive of exited processes only: err = %v, want ErrGone", err)
	}
}

func TestParseNetDev(t *testing.T) {
	dev := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1255695275 1227369    0    0    0     0          0         0 1255695275 1227369    0    0    0     0       0          0
  eth0: 57812361    3410    0    0    0     0          0         0   237800    2216    0    0    0     0       0          0
  ens5: 100 7 0 0 0 0 0 0 100 3 0 0 0 0 0 0
`
	if n, err := ParseNetDev(dev); err != nil || n != 3410+2216+7+3 {
		t.Errorf("ParseNetDev = %d, %v; want %d", n, err, 3410+2216+7+3)
	}
	if _, err := ParseNetDev("Inter-|\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"); err == nil {
		t.Error("ParseNetDev with loopback only succeeded")
	}
	h, err := parseProcStat("cpu  5305 0 2494 74603 119 30 65 12 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil || h.IRQSeconds != 0.95 {
		t.Errorf("parseProcStat = %+v, %v; want 0.95 s of irq+softirq", h, err)
	}
	if _, err := ReadHost(); err != nil {
		t.Logf("ReadHost on this machine: %v", err) // containers may lack an interface
	}
}

func TestCPUModel(t *testing.T) {
	for in, want := range map[string]string{
		"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n":          "AMD EPYC 9R14",
		"processor\t: 0\nBogoMIPS\t: 2100.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n": "Arm Neoverse-V1 (Graviton3)",
		"CPU implementer\t: 0x61\nCPU part\t: 0x022\n":                                      "arm64 implementer 0x61 part 0x022",
		"": "",
	} {
		if got := CPUModel(in); got != want {
			t.Errorf("CPUModel(%q) = %q, want %q", in, got, want)
		}
	}
	for list, want := range map[string]int{"0": 1, "0-1": 2, "0,64": 2, "0-3,8-11": 8, "x": 0, "3-1": 0} {
		if got := CountCPUList(list); got != want {
			t.Errorf("CountCPUList(%q) = %d, want %d", list, got, want)
		}
	}
}

// The machine facts come from sysfs: EC2's DMI names the instance type.
func TestDescribeSysfs(t *testing.T) {
	root := t.TempDir()
	for path, content := range map[string]string{
		"devices/system/cpu/cpu0/topology/thread_siblings_list": "0,48\n",
		"devices/system/cpu/cpu0/cpufreq/scaling_governor":      "performance\n",
		"devices/virtual/dmi/id/sys_vendor":                     "Amazon EC2\n",
		"devices/virtual/dmi/id/product_name":                   "c7i.xlarge\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := sysRoot
	sysRoot = root
	defer func() { sysRoot = old }()
	m := Describe()
	if m.ThreadsPerCore != 2 || m.Governor != "performance" || m.InstanceType != "c7i.xlarge" || m.Arch == "" {
		t.Errorf("Describe() = %+v", m)
	}
}

func TestGoBuild(t *testing.T) {
	b, err := GoBuild(os.Args[0])
	if err != nil || b.GoVersion == "" {
		t.Fatalf("GoBuild(test binary) = %+v, %v", b, err)
	}
	if s := (Build{GoVersion: "go1.26.8", Revision: "1b761e9abcdef0123", Modified: true}).String(); s != "commit 1b761e9abcde (dirty: uncommitted changes), go1.26.8" {
		t.Errorf("String() = %q", s)
	}
	if _, err := GoBuild("/nonexistent"); err == nil {
		t.Error("GoBuild of a missing file succeeded")
	}
}
