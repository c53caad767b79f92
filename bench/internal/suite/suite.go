// Package suite runs a ladder of load steps (concurrency × response
// size) against one or more targets and measures each: the load
// generator's figures and the proxy's CPU time and memory. Every step
// runs Rounds times with the targets interleaved, so that a machine
// that slows down for a while slows every proxy alike. It shows progress
// and stops by itself at a deadline.
package suite

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// memInterval is how often memory is sampled during a step.
const memInterval = 200 * time.Millisecond

// stepSlack is what a step takes beyond its load duration: starting the
// load generator, its summary and exit, and the proxy samples. A step is
// only begun when its duration plus stepSlack ends before the deadline.
const stepSlack = 5 * time.Second

// Target is what a ladder drives.
type Target struct {
	// Name labels the steps ("pilb", "nginx", "haproxy").
	Name string
	// Loops is the proxy's loop/worker/thread count, for the steps.
	Loops int
	// BaseURL is "http://host:port"; the step's path is appended.
	BaseURL string
	// Sample reads the proxy's cumulative CPU time and memory; nil when the
	// proxy cannot be observed (remote without an agent).
	Sample func() (procstat.Sample, error)
}

// Ladder is the steps to run against a target.
type Ladder struct {
	Conns    []int
	Sizes    []int
	Tools    []string // "wrk", "hey"
	Duration time.Duration
	// Warmup is a short untimed load before the first step, with
	// Tools[0]; skipped when it would end past Deadline.
	Warmup  time.Duration
	Threads int    // wrk threads
	CPUs    string // taskset list for the load generator
	// Rounds is how many times each step runs; 0 means 1. Within a
	// round every target runs the step once, in an order rotated by one
	// each round so that no target always runs first.
	Rounds int
	// Deadline stops the ladder before a step that would end after it.
	Deadline time.Time
}

// Progress counts steps across ladders for the progress line.
type Progress struct {
	W     io.Writer
	Total int
	done  int
	began time.Time
}

// Path is the URL path serving size response bytes (pilb-backend's
// /bytes/N route).
func Path(size int) string { return fmt.Sprintf("/bytes/%d", size) }

// Run runs the ladder against the targets and appends the steps to run:
// for each tool, size and concurrency, Rounds rounds in which every
// target runs the step once. It returns false when the deadline or ctx
// stopped it.
func Run(ctx context.Context, targets []Target, l Ladder, run *results.Run, pr *Progress) bool {
	if pr.began.IsZero() {
		pr.began = time.Now()
	}
	rounds := max(l.Rounds, 1)
	// Warm up each target with the first tool the ladder uses (the one
	// that is installed), unless the warm-up would run past the deadline.
	for _, t := range targets {
		if l.Warmup > 0 && len(l.Tools) > 0 && !time.Now().Add(l.Warmup+stepSlack).After(l.Deadline) {
			_, _ = load.Run(ctx, load.Spec{Tool: l.Tools[0], URL: t.BaseURL + Path(l.Sizes[0]), Conns: l.Conns[len(l.Conns)/2],
				Duration: l.Warmup, Threads: l.Threads, CPUs: l.CPUs})
		}
	}
	for _, tool := range l.Tools {
		for _, size := range l.Sizes {
			for _, conns := range l.Conns {
				for round := 1; round <= rounds; round++ {
					for i := range targets {
						t := targets[(i+round-1)%len(targets)]
						if ctx.Err() != nil || time.Now().Add(l.Duration+stepSlack).After(l.Deadline) {
							return false
						}
						st := Measure(ctx, t, tool, size, conns, l)
						st.Round = round
						run.Steps = append(run.Steps, st)
						pr.done++
						pr.print(st)
					}
				}
			}
		}
	}
	return true
}

// Measure runs one step.
func Measure(ctx context.Context, t Target, tool string, size, conns int, l Ladder) results.Step {
	st := results.Step{Proxy: results.Label(t.Name, tool), Loops: t.Loops, Conns: conns, RespBytes: size}
	var before procstat.Sample
	var maxMem int64
	var sampleErr error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if t.Sample != nil {
		before, sampleErr = t.Sample()
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(memInterval)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if s, err := t.Sample(); err == nil {
						maxMem = max(maxMem, s.MemBytes)
					}
				}
			}
		}()
	}
	res, err := load.Run(ctx, load.Spec{Tool: tool, URL: t.BaseURL + Path(size), Conns: conns,
		Duration: l.Duration, Threads: l.Threads, CPUs: l.CPUs})
	close(stop)
	wg.Wait()
	st.Load = res
	if err != nil {
		st.Err = err.Error()
	}
	if t.Sample != nil && sampleErr == nil {
		after, err := t.Sample()
		if err != nil {
			st.Err = strings.TrimPrefix(st.Err+"; proxy sample: "+err.Error(), "; ")
			return st
		}
		if before.PIDs != nil && after.PIDs != nil && !slices.Equal(before.PIDs, after.PIDs) {
			st.Err = strings.TrimPrefix(st.Err+fmt.Sprintf("; the proxy's processes changed during the step (%v -> %v): restarted?",
				before.PIDs, after.PIDs), "; ")
			return st
		}
		st.ProxyCPUSeconds = after.CPUSeconds - before.CPUSeconds
		wall := after.At.Sub(before.At).Seconds()
		if wall > 0 {
			st.ProxyCores = st.ProxyCPUSeconds / wall
		}
		if before.Host != nil && after.Host != nil && wall > 0 {
			st.IRQCores = (after.Host.IRQSeconds - before.Host.IRQSeconds) / wall
			if res.Requests > 0 {
				st.PacketsPerRequest = float64(after.Host.NetPackets-before.Host.NetPackets) / float64(res.Requests)
			}
		}
		if res.Requests > 0 {
			st.CPUPerRequestUS = st.ProxyCPUSeconds / float64(res.Requests) * 1e6
		}
		st.ProxyMemBytes = max(maxMem, after.MemBytes)
		st.ProxyMemKind = after.MemKind
	}
	return st
}

func (pr *Progress) print(st results.Step) {
	if pr.W == nil {
		return
	}
	elapsed := time.Since(pr.began)
	left := ""
	if pr.done > 0 && pr.Total > pr.done {
		left = fmt.Sprintf(", ~%s left", (elapsed / time.Duration(pr.done) * time.Duration(pr.Total-pr.done)).Round(time.Second))
	}
	head := fmt.Sprintf("[%d/%d %s%s] %s ×%d %6dB c=%-4d r%d", pr.done, pr.Total, elapsed.Round(time.Second), left,
		st.Proxy, st.Loops, st.RespBytes, st.Conns, st.Round)
	if st.Err != "" {
		fmt.Fprintf(pr.W, "%s FAILED: %s\n", head, st.Err)
		return
	}
	l := st.Load
	p999 := "—" // hey does not measure it
	if l.Latency.P999 > 0 {
		p999 = fmt.Sprintf("%.3f", l.Latency.P999)
	}
	fmt.Fprintf(pr.W, "%s %9.0f req/s  p50 %.3f  p99 %.3f  p99.9 %s ms  %6.1f µs CPU/req  %.2f cores  errors %d  non-2xx %d\n",
		head, l.RPS, l.Latency.P50, l.Latency.P99, p999, st.CPUPerRequestUS, st.ProxyCores, l.Errors, l.Non2xx)
}
