package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// exitGrace is how long a load generator may take beyond its duration and
// one request timeout to print its summary and exit: wrk runs its Lua
// done() and hey sorts every latency it recorded, which takes seconds
// after a long high-rate run. Past it the run is killed as hung.
const exitGrace = 15 * time.Second

// Spec is one load run.
type Spec struct {
	// Tool is "wrk" (default) or "hey".
	Tool string
	// URL is the target.
	URL string
	// Conns is the number of concurrent connections (hey: workers).
	Conns int
	// Duration is how long the load runs.
	Duration time.Duration
	// Threads is wrk's thread count; 0 means 1. Capped at Conns.
	Threads int
	// CPUs, when set, pins the generator with taskset -c CPUs.
	CPUs string
	// Timeout is the per-request timeout; 0 means 2s.
	Timeout time.Duration
	// SlowOver, when positive, makes wrk count the responses slower than
	// it (Result.Slow). Every response is counted only when Timeout
	// exceeds Duration: wrk records no latency above its timeout. hey
	// cannot count them.
	SlowOver time.Duration
	// Close sends every request on a new connection (Connection: close),
	// as clients that come and go.
	Close bool
}

// Run runs spec and parses the result. Output that does not parse is
// returned in the error. The run is bounded by spec.Duration plus a grace
// period, whatever the tool does.
func Run(ctx context.Context, spec Spec) (Result, error) {
	tool := spec.Tool
	if tool == "" {
		tool = "wrk"
	}
	if _, err := exec.LookPath(tool); err != nil {
		return Result{}, fmt.Errorf("%w: %s", ErrToolMissing, tool)
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	secs := strconv.Itoa(max(int(spec.Duration.Round(time.Second)/time.Second), 1))
	var args []string
	switch tool {
	case "wrk":
		script, err := writeScript()
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(script)
		threads := min(max(spec.Threads, 1), spec.Conns)
		args = []string{"wrk", "--latency", "-s", script,
			"-t", strconv.Itoa(threads), "-c", strconv.Itoa(spec.Conns),
			"-d", secs + "s", "--timeout", strconv.Itoa(max(int(timeout/time.Second), 1)) + "s"}
		if spec.Close {
			args = append(args, "-H", "Connection: close")
		}
	case "hey":
		if spec.SlowOver > 0 {
			return Result{}, fmt.Errorf("load: hey cannot count responses slower than %s: use wrk", spec.SlowOver)
		}
		args = []string{"hey", "-z", secs + "s", "-c", strconv.Itoa(spec.Conns),
			"-t", strconv.Itoa(max(int(timeout/time.Second), 1)), "-disable-compression"}
		if spec.Close {
			args = append(args, "-disable-keepalive")
		}
	default:
		return Result{}, fmt.Errorf("load: unknown tool %q", tool)
	}
	args = append(args, spec.URL)
	if spec.CPUs != "" {
		args = append([]string{"taskset", "-c", spec.CPUs}, args...)
	}
	runCtx, cancel := context.WithTimeout(ctx, spec.Duration+timeout+exitGrace)
	defer cancel()
	cmd := exec.CommandContext(runCtx, args[0], args[1:]...)
	if spec.SlowOver > 0 {
		cmd.Env = append(os.Environ(), slowEnv+"="+strconv.FormatInt(spec.SlowOver.Microseconds(), 10))
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("load: %s stopped: %w", tool, ctx.Err())
	}
	if runCtx.Err() != nil {
		return Result{}, fmt.Errorf("load: %s did not finish within %s: %w", tool, spec.Duration+timeout+exitGrace, ErrTimeout)
	}
	var r Result
	var perr error
	if tool == "wrk" {
		r, perr = ParseWrk(string(out))
	} else {
		r, perr = ParseHey(string(out))
	}
	if perr != nil {
		return r, fmt.Errorf("load: %s: %v: %w", tool, err, errors.Join(perr, errors.New(firstLine(string(out)))))
	}
	return r, nil
}

// slowEnv tells ReportScript the threshold of Result.Slow in µs.
const slowEnv = "PILB_BENCH_SLOW_US"

// writeScript puts ReportScript in a temporary file for wrk -s.
func writeScript() (string, error) {
	f, err := os.CreateTemp("", "pilb-bench-*.lua")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(ReportScript); err != nil {
		return "", err
	}
	return filepath.Clean(f.Name()), nil
}
