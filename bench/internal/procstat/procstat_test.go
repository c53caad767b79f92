package procstat

import (
	"errors"
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	// A comm with a space and a parenthesis, as a process may name itself.
	line := "4242 (nginx: w) rk) S 4241 4241 4241 0 -1 4194624 1057 0 0 0 731 402 0 0 20 0 1 0 98765 12345678 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := ParseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{PID: 4242, PPID: 4241, UTime: 731, STime: 402, RSSPages: 2048}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "12 (x) S 1 2", "x (y) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1"} {
		if _, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q) succeeded", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.MemBytes <= 0 || s.CPUSeconds < 0 || s.MemKind != MemPSS && s.MemKind != MemRSS {
		t.Errorf("sample %+v", s)
	}
	if tree := Tree(os.Getppid()); len(tree) < 2 {
		t.Errorf("Tree(parent) = %v, want the parent and this process", tree)
	}
	m := Describe()
	if m.CPUs < 1 || m.Kernel == "" || m.GoVersion == "" {
		t.Errorf("Describe() = %+v", m)
	}
}

func TestParsePSS(t *testing.T) {
	rollup := `55d0c0a4e000-7ffd6b1f5000 ---p 00000000 00:00 0                          [rollup]
Rss:                8840 kB
Pss:                2315 kB
Pss_Anon:            980 kB
Shared_Clean:       7800 kB
`
	if got, err := ParsePSS(rollup); err != nil || got != 2315<<10 {
		t.Errorf("ParsePSS = %d, %v; want %d", got, err, 2315<<10)
	}
	for _, bad := range []string{"", "Rss: 1 kB\n", "Pss: many kB\n"} {
		if _, err := ParsePSS(bad); !errors.Is(err, ErrBadRollup) {
			t.Errorf("ParsePSS(%q): err = %v, want ErrBadRollup", bad, err)
		}
	}
}

// Read reports PSS where the kernel has smaps_rollup, and the figure is
// then not above RSS.
func TestReadPSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Skip("no smaps_rollup:", err)
	}
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st, _ := ReadStat(os.Getpid())
	if s.MemKind != MemPSS || s.MemBytes <= 0 || s.MemBytes > 2*st.RSSPages*int64(os.Getpagesize()) {
		t.Errorf("sample %+v, RSS %d pages", s, st.RSSPages)
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tnginx\nVmPeak:\t  20000 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8192 kB\nThreads:\t1\n"
	m, err := ParseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 8192<<10 || m.HWM != 9000<<10 {
		t.Errorf("got %+v", m)
	}
	// A kernel thread has no Vm lines; a mangled one is an error too.
	for _, bad := range []string{"Name:\tkthreadd\nState:\tS\n", "VmHWM:\t1 kB\nVmRSS:\tlots\n"} {
		if _, err := ParseStatus(bad); !errors.Is(err, ErrBadStatus) {
			t.Errorf("ParseStatus(%q): err = %v", bad, err)
		}
	}
}

// The peak is reset to the present and reads back at least the RSS.
func TestReadMemorySelf(t *testing.T) {
	if err := ResetPeak(os.Getpid()); err != nil {
		t.Skipf("clear_refs not writable here: %v", err)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS/2 || m.PSS < 0 {
		t.Errorf("memory %+v", m)
	}
	if _, err := ReadMemory(os.Getpid(), 1<<30); !errors.Is(err, ErrGone) {
		t.Errorf("a PID that does not exist: err = %v", err)
	}
}
