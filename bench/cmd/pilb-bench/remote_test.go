package main

import (
	"fmt"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// -print labels backends s1, s2 … as local does.
func TestPrintHostsLabels(t *testing.T) {
	var lf ladderFlags
	lf.conns, lf.sizes = intList{1, 16}, intList{0}
	var b strings.Builder
	if err := printHosts(&b, "http://10.0.1.10:8080", "", 2, []string{"10.0.1.21:5000", "10.0.1.22:5000"}, lf); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"-listen 10.0.1.21:5000 -id s1 ", "-listen 10.0.1.22:5000 -id s2 ",
		"-agent http://10.0.1.10:9100 ", "-loops 2 -conns 1,16 -sizes 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("-print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-id s0") {
		t.Errorf("-print labels a backend s0:\n%s", out)
	}
}

// An agent that accepts and never answers does not hang remote.
func TestAgentMachineTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	if _, err := agentMachine(&http.Client{Timeout: 100 * time.Millisecond}, srv.URL); err == nil {
		t.Fatal("agentMachine succeeded against a silent agent")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("agentMachine took %s", d)
	}
}

// startNamed starts a sleep under a name no other process on the machine
// has, so that other tests and the machine's own processes cannot join
// the list the agent takes.
func startNamed(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep:", err)
	}
	name := fmt.Sprintf("pbt%d", os.Getpid()%1000000) // comm is at most 15 bytes
	bin := filepath.Join(t.TempDir(), name)
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, name
}

// The agent keeps its process list between samples and takes it again
// when a process of it is gone.
func TestObservedKeepsPIDs(t *testing.T) {
	cmd, name := startNamed(t)
	pid := cmd.Process.Pid
	var o observed
	if !eventually(func() bool { _, pids, err := o.sample(name); return err == nil && slices.Contains(pids, pid) }) {
		t.Fatalf("sample never found %s (%d)", name, pid)
	}
	o.pids = []int{pid} // a list the agent would not find by itself
	if _, pids, err := o.sample(name); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("second sample took the list again: %v, %v", pids, err)
	}
	o.pids = []int{1 << 30} // gone
	if _, pids, err := o.sample(name); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("after a process left: %v, %v", pids, err)
	}
	if _, _, err := (&observed{}).sample("no-such-process-name"); err == nil {
		t.Error("sample of a missing process succeeded")
	}
}

// A process that leaves between the listing and the reading is left out,
// not an error: the fresh list is read with the gone one skipped.
func TestObservedSkipsProcessThatLeft(t *testing.T) {
	cmd, name := startNamed(t)
	short := exec.Command("true")
	if err := short.Run(); err != nil {
		t.Fatal(err)
	}
	s, live, err := procstat.ReadLive(short.Process.Pid, cmd.Process.Pid)
	if err != nil || !slices.Equal(live, []int{cmd.Process.Pid}) || s.MemBytes <= 0 {
		t.Errorf("ReadLive = %+v, %v, %v", s, live, err)
	}
	var o observed
	o.pids = []int{short.Process.Pid}
	if _, pids, err := o.sample(name); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("sample after the kept process left: %v, %v", pids, err)
	}
}

// eventually polls cond for up to 10 s: on a loaded machine a process
// just started may take a moment to show its name in /proc.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
