package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
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

// The agent keeps its process list between samples and takes it again
// when a process of it is gone.
func TestObservedKeepsPIDs(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var o observed
	_, pids, err := o.sample("sleep")
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("sample: %v, pids %v", err, pids)
	}
	o.pids = []int{cmd.Process.Pid} // a list the agent would not find by itself
	if _, pids, err = o.sample("sleep"); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("second sample took the list again: %v, %v", pids, err)
	}
	o.pids = []int{1 << 30} // gone
	if _, pids, err = o.sample("sleep"); err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("after a process left: %v, %v", pids, err)
	}
	if _, _, err := (&observed{}).sample("no-such-process-name"); err == nil {
		t.Error("sample of a missing process succeeded")
	}
}
