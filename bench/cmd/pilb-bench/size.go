package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/report"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/sizing"
)

// cmdSize recommends instance types for a target from measured results.
func cmdSize(args []string) error {
	fs := newFlagSet("size")
	resultsDir := fs.String("results", "", "results `folder` (default: the newest in bench/results)")
	proxy := fs.String("proxy", "pilb", "proxy whose measurements to size for")
	rps := fs.Float64("rps", 50000, "target requests/s")
	p99 := fs.Duration("p99", 5*time.Millisecond, "target p99 latency")
	respBytes := fs.Int("resp-bytes", 2048, "typical response body size in bytes")
	headroom := fs.Float64("headroom", sizing.DefaultHeadroom, "capacity planned above -rps, as a fraction of it, 0 ≤ h < 1 (0.3 plans for 1.3 × rps)")
	scaling := fs.Float64("scaling", sizing.DefaultScalingEff, "scaling efficiency from 1 to N loops when the results measured one loop count only")
	overhead := fs.Int("overhead", sizing.DefaultOverheadBytes, "wire bytes per exchange besides the body (heads, TCP/IP)")
	perCore := fs.Float64("per-core", 0, "per-core req/s to use instead of the results (what-if)")
	instances := fs.String("instances", "", "instance catalogue JSON (default: the embedded bench/internal/sizing/instances.json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !(*headroom >= 0 && *headroom < 1) {
		return fmt.Errorf("%w: -headroom %g: want 0 ≤ headroom < 1 (0.3 plans for 1.3 × -rps)", errUsage, *headroom)
	}
	if *overhead < 0 {
		return fmt.Errorf("%w: -overhead %d: want ≥ 0 bytes", errUsage, *overhead)
	}
	cat, err := sizing.Embedded()
	if *instances != "" {
		cat, err = sizing.LoadCatalog(*instances)
	}
	if err != nil {
		return err
	}
	t := sizing.Target{RPS: *rps, P99MS: float64(*p99) / float64(time.Millisecond), RespBytes: *respBytes}
	c := sizing.Capacity{PerCoreRPS: *perCore, ScalingEff: *scaling, Source: "given with -per-core and -scaling"}
	if *perCore == 0 {
		dir := *resultsDir
		if dir == "" {
			if dir, err = newestResults(); err != nil {
				return err
			}
		}
		run, err := results.Load(dir)
		if err != nil {
			return err
		}
		fmt.Printf("results: %s (%s, %s on %s)\n", dir, run.Kind, run.Started.Format("2006-01-02 15:04"), run.Machine.CPUModel)
		if c, err = sizing.CapacityFromRun(run, *proxy, t, *scaling); err != nil {
			return err
		}
	}
	plan, err := sizing.Recommend(cat, t, c, sizing.Params{Headroom: *headroom, OverheadBytes: *overhead})
	if err != nil {
		return err
	}
	sizing.WriteTable(os.Stdout, plan, cat)
	return nil
}

// newestResults returns the newest folder under bench/results.
func newestResults() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	base := filepath.Join(root, "bench", "results")
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", fmt.Errorf("no results in %s: run local or compare first, or pass -results or -per-core", base)
	}
	var dirs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(base, e.Name(), results.FileName)); err == nil {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 0 {
		return "", fmt.Errorf("no results in %s: run local or compare first, or pass -results or -per-core", base)
	}
	slices.Sort(dirs)
	return filepath.Join(base, dirs[len(dirs)-1]), nil
}

// cmdReport re-renders report.md and the plots of a results folder.
func cmdReport(args []string) error {
	fs := newFlagSet("report")
	dir := fs.String("results", "", "results `folder` (default: the newest in bench/results)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if *dir == "" {
		if *dir, err = newestResults(); err != nil {
			return err
		}
	}
	run, err := results.Load(*dir)
	if err != nil {
		return err
	}
	files, err := report.Write(*dir, run)
	if err != nil {
		return err
	}
	fmt.Printf("report: %s (%d plots)\n", files[0], len(files)-1)
	return nil
}
