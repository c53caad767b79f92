package procstat

import (
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
	if s.RSSBytes <= 0 || s.CPUSeconds < 0 {
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
