package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
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
	if !Run(context.Background(), []Target{{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1"}}, l, run, &Progress{}) {
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
	Run(context.Background(), []Target{{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1"}}, l, run, &Progress{})
	if got := callsOf(t, calls); len(got) != 1 || len(run.Steps) != 1 {
		t.Errorf("hey calls %q, %d steps; want only the step", got, len(run.Steps))
	}
}

// Every step runs Rounds times; within a round each target runs once,
// the first target rotating from round to round.
func TestRoundsInterleaveTargets(t *testing.T) {
	fakeHey(t)
	l := Ladder{Conns: []int{4, 16}, Sizes: []int{0}, Tools: []string{"hey"}, Duration: time.Second,
		Rounds: 3, Deadline: time.Now().Add(time.Minute)}
	targets := []Target{{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1"}, {Name: "nginx", Loops: 1, BaseURL: "http://127.0.0.1:2"}}
	run := &results.Run{}
	pr := &Progress{}
	if !Run(context.Background(), targets, l, run, pr) {
		t.Fatal("Run stopped early")
	}
	var got []string
	for _, s := range run.Steps {
		got = append(got, fmt.Sprintf("%s c%d r%d", strings.TrimSuffix(s.Proxy, "/hey"), s.Conns, s.Round))
	}
	want := []string{"pilb c4 r1", "nginx c4 r1", "nginx c4 r2", "pilb c4 r2", "pilb c4 r3", "nginx c4 r3",
		"pilb c16 r1", "nginx c16 r1", "nginx c16 r2", "pilb c16 r2", "pilb c16 r3", "nginx c16 r3"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("order:\n got %v\nwant %v", got, want)
	}
	if pts := run.Points(); len(pts) != 4 || pts[0].RPS.N != 3 {
		t.Errorf("points %d, first over %d rounds; want 4 points of 3 rounds", len(pts), pts[0].RPS.N)
	}
}

// A proxy whose processes change between the samples of a step (it was
// restarted) does not get a CPU figure from two different processes.
func TestMeasureRejectsRestartedProxy(t *testing.T) {
	fakeHey(t)
	n := 0
	sample := func() (procstat.Sample, error) {
		n++
		return procstat.Sample{At: time.Now(), CPUSeconds: float64(n), PIDs: []int{100 + n}}, nil
	}
	l := Ladder{Duration: time.Second}
	st := Measure(context.Background(), Target{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1", Sample: sample}, "hey", 0, 4, l)
	if !strings.Contains(st.Err, "processes changed") || st.CPUPerRequestUS != 0 {
		t.Errorf("step %+v, want an error about changed processes", st)
	}
}

// An agent's host counters give interrupt CPU and packets per request.
func TestMeasureHostCounters(t *testing.T) {
	fakeHey(t)
	start := time.Now()
	n := 0
	sample := func() (procstat.Sample, error) {
		n++
		if n == 1 {
			return procstat.Sample{At: start, PIDs: []int{7}, Host: &procstat.Host{IRQSeconds: 10, NetPackets: 1000}}, nil
		}
		return procstat.Sample{At: start.Add(2 * time.Second), CPUSeconds: 1, PIDs: []int{7}, Host: &procstat.Host{IRQSeconds: 11, NetPackets: 1000 + 6*114801}}, nil
	}
	st := Measure(context.Background(), Target{Name: "pilb", Loops: 1, BaseURL: "http://127.0.0.1:1", Sample: sample}, "hey", 0, 4, Ladder{Duration: time.Second})
	if st.Err != "" || st.IRQCores != 0.5 || st.PacketsPerRequest != 6 {
		t.Errorf("step irq %v cores, %v packets/request, err %q; want 0.5 and 6", st.IRQCores, st.PacketsPerRequest, st.Err)
	}
}
