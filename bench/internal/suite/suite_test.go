package suite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// fakeHey puts a hey on PATH that logs its arguments to the returned file
// and prints a real hey summary.
func fakeHey(t *testing.T) string {
	t.Helper()
	summary, err := filepath.Abs("../load/testdata/hey_summary.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$@\" >> " + calls + "\ncat " + summary + "\n"
	if err := os.WriteFile(filepath.Join(dir, "hey"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func callsOf(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// With -tool hey the warm-up runs hey (it used to run wrk whatever the
// tool, and did nothing where wrk was not installed).
func TestWarmupUsesLadderTool(t *testing.T) {
	calls := fakeHey(t)
	l := Ladder{Conns: []int{4}, Sizes: []int{0}, Tools: []string{"hey"}, Duration: time.Second,
		Warmup: time.Second, Deadline: time.Now().Add(time.Minute)}
	run := &results.Run{}
	if !Run(context.Background(), Target{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1"}, l, run, &Progress{}) {
		t.Fatal("Run stopped early")
	}
	got := callsOf(t, calls)
	if len(got) != 2 || len(run.Steps) != 1 || run.Steps[0].Proxy != "pilb/hey" {
		t.Fatalf("hey calls %q, steps %+v; want warm-up and one step", got, run.Steps)
	}
	if !strings.HasPrefix(got[0], "-z 1s -c 4 ") {
		t.Errorf("warm-up call %q", got[0])
	}
}

// A warm-up that would end past the deadline is skipped.
func TestWarmupRespectsDeadline(t *testing.T) {
	calls := fakeHey(t)
	l := Ladder{Conns: []int{4}, Sizes: []int{0}, Tools: []string{"hey"}, Duration: time.Second,
		Warmup: time.Minute, Deadline: time.Now().Add(30 * time.Second)}
	run := &results.Run{}
	Run(context.Background(), Target{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1"}, l, run, &Progress{})
	if got := callsOf(t, calls); len(got) != 1 || len(run.Steps) != 1 {
		t.Errorf("hey calls %q, %d steps; want only the step", got, len(run.Steps))
	}
}
