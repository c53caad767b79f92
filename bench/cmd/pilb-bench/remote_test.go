package main

import (
	"errors"
	"fmt"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
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

// -print labels backends s1, s2 … as local does, works on Amazon Linux
// 2023 and Ubuntu, and carries the nginx and HAProxy configurations of
// the comparison.
func TestPrintHosts(t *testing.T) {
	var lf ladderFlags
	lf.conns, lf.sizes, lf.rounds = intList{1, 16}, intList{0}, 3
	var b strings.Builder
	if err := printHosts(&b, "http://10.0.1.10:8080", "", "arm64", 2, []string{"10.0.1.20:5001", "10.0.1.20:5002"}, lf); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"-listen 0.0.0.0:5001 -id s1 ", "-listen 0.0.0.0:5002 -id s2 ",
		"command -v dnf", "dnf install -y nginx haproxy", "apt-get install -y nginx haproxy", "apt-get install -y wrk",
		"--branch 4.2.0 https://github.com/wg/wrk",
		"worker_processes 2;", "listen 0.0.0.0:8081", "server 10.0.1.20:5002 max_fails=0;", "keepalive 64;",
		"nbthread 2", "bind 0.0.0.0:8082", "http-reuse always",
		"taskset -c 0-1 ./pilb -listen 0.0.0.0:8080 -backends 10.0.1.20:5001,10.0.1.20:5002 -loops 2",
		"-process pilb,nginx,haproxy",
		"-target pilb=http://10.0.1.10:8080,nginx=http://10.0.1.10:8081,haproxy=http://10.0.1.10:8082",
		"-agent http://10.0.1.10:9100 -loops 2 -conns 1,16 -sizes 0 -rounds 3",
		"allowance", "-append",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-id s0") || strings.Contains(out, "{{") || strings.Contains(out, "<no value>") {
		t.Errorf("-print has s0 or an unfilled template field:\n%s", out)
	}
	for _, bad := range []struct{ target, arch string }{{"::", "arm64"}, {"http://10.0.1.10:8080", "mips"}} {
		if err := printHosts(&b, bad.target, "", bad.arch, 1, []string{"10.0.1.20:5001"}, lf); !errors.Is(err, errUsage) {
			t.Errorf("printHosts(%q, %q): err = %v, want a usage error", bad.target, bad.arch, err)
		}
	}
}

// The shell script -print writes is valid sh.
func TestPrintHostsIsShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	var lf ladderFlags
	lf.conns, lf.sizes, lf.rounds = intList{1}, intList{0}, 3
	var b strings.Builder
	if err := printHosts(&b, "", "", "amd64", 1, []string{"10.0.1.20:5001"}, lf); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-n")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v: %s", err, out)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := parseTargets("pilb=http://10.0.1.10:8080,nginx=http://10.0.1.10:8081/", "x")
	if err != nil || len(got) != 2 || got[1] != (remoteTarget{"nginx", "http://10.0.1.10:8081"}) {
		t.Errorf("parseTargets = %+v, %v", got, err)
	}
	if got, err := parseTargets("http://10.0.1.10:8080", "pilb"); err != nil || got[0].Name != "pilb" {
		t.Errorf("one URL: %+v, %v", got, err)
	}
	for _, bad := range []string{"pilb=10.0.1.10:8080", "pilb=http://a:1,pilb=http://b:1", "=http://a:1", "ftp://a"} {
		if _, err := parseTargets(bad, "pilb"); !errors.Is(err, errUsage) {
			t.Errorf("parseTargets(%q): err = %v, want a usage error", bad, err)
		}
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

// -append adds a run to a folder of the same proxy host, and refuses a
// folder measured elsewhere or by compare.
func TestAppendTo(t *testing.T) {
	dir := t.TempDir()
	host := procstat.Machine{Hostname: "proxy", CPUModel: "Neoverse-V2"}
	cur := &results.Run{Kind: "remote", ProxyMachine: &host, Args: []string{"pilb-bench", "remote", "-loops", "2"}}
	if got, err := appendTo(dir, cur); err != nil || got != cur {
		t.Fatalf("first of a series: %v, %v", got, err)
	}
	prev := &results.Run{Kind: "remote", ProxyMachine: &host, Steps: []results.Step{{Proxy: "pilb", Loops: 1}}}
	if err := results.Write(dir, prev); err != nil {
		t.Fatal(err)
	}
	got, err := appendTo(dir, cur)
	if err != nil || len(got.Steps) != 1 || got.Steps[0].Loops != 1 || !strings.Contains(strings.Join(got.Notes, " "), "-loops 2") {
		t.Errorf("appendTo = %+v, %v", got, err)
	}
	other := procstat.Machine{Hostname: "elsewhere", CPUModel: "Xeon"}
	if _, err := appendTo(dir, &results.Run{Kind: "remote", ProxyMachine: &other}); !errors.Is(err, errUsage) {
		t.Errorf("another host: err = %v, want a usage error", err)
	}
	prev.Kind = "compare"
	_ = results.Write(dir, prev)
	if _, err := appendTo(dir, cur); !errors.Is(err, errUsage) {
		t.Errorf("a compare folder: err = %v, want a usage error", err)
	}
}
