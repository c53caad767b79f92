package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/report"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/sizing"
)

// cmdSize recommends fleets for a target from measured results.
func cmdSize(args []string) error {
	fs := newFlagSet("size")
	resultsDirs := fs.String("results", "", "results `folders`, comma-separated (default: the newest in bench/results); "+
		"the first is the main measurement, the others (remote runs on other instance types) replace the CPU assumption for their processor")
	proxy := fs.String("proxy", "pilb", "proxy whose measurements to size for")
	rps := fs.Float64("rps", 50000, "target requests/s")
	p99 := fs.Duration("p99", 5*time.Millisecond, "target p99 latency")
	respBytes := fs.Int("resp-bytes", 2048, "typical response body size in bytes")
	def := sizing.DefaultParams()
	targetUtil := fs.Float64("target-util", def.TargetUtil, "share of each core and network allowance to plan for, 0 < u ≤ 1")
	headroom := fs.Float64("headroom", 0, "load planned above -rps for growth, as a fraction of it, 0 ≤ h < 1")
	extrapolate := fs.Bool("extrapolate", false, "allow a -resp-bytes outside the measured sizes")
	scaling := fs.Float64("scaling", def.ScalingEff, "scaling efficiency from 1 to N loops, used when the results measured one loop count only")
	crossCPU := fs.Float64("cpu-factor", def.CrossCPU, "per-core capacity factor ASSUMED for a processor that was not measured")
	smt := fs.Float64("smt-factor", def.SMT, "further factor ASSUMED for hyper-threaded vCPUs when the measured CPUs were whole cores")
	overhead := fs.Int("overhead", def.OverheadBytes, "wire bytes per exchange besides the body (heads, TCP/IP)")
	mss := fs.Int("mss", def.MSS, "TCP payload bytes per segment for the packet estimate (1448: 1500-byte MTU)")
	clientConns := fs.Int("client-conns", def.ClientConns, "concurrent client connections across the fleet (per-flow and tracked-connection checks)")
	placement := fs.Bool("placement-group", false, "clients and proxies share a cluster placement group (10 Gbit/s per flow instead of 5)")
	minCount := fs.Int("min-count", def.MinCount, "fewest instances of a fleet (1 allows a single instance)")
	spare := fs.Int("spare", def.Spare, "instances beyond those the load needs, so that the fleet carries it with this many down")
	front := fs.String("front", def.Front, "how clients reach the proxies: nlb (an AWS Network Load Balancer) or direct (internet gateway)")
	catalog := fs.String("catalog", "", "instance catalogue JSON (default: the embedded bench/internal/sizing/instances.json)")
	top := fs.Int("top", 15, "fleets to list; 0 lists all")
	p99Round := fs.String("p99-round", "worst", "which round's p99 a step must meet: worst (every round) or median")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *p99Round != "worst" && *p99Round != "median" {
		return fmt.Errorf("%w: -p99-round %q: want worst or median", errUsage, *p99Round)
	}
	if *p99 <= 0 || *rps <= 0 || *respBytes < 0 {
		return fmt.Errorf("%w: want -rps > 0, -p99 > 0 and -resp-bytes ≥ 0", errUsage)
	}
	p := sizing.Params{TargetUtil: *targetUtil, Headroom: *headroom, OverheadBytes: *overhead, ScalingEff: *scaling,
		CrossCPU: *crossCPU, SMT: *smt, Extrapolate: *extrapolate, MinCount: *minCount, Spare: *spare, Front: *front,
		MSS: *mss, ClientConns: *clientConns, PlacementGroup: *placement}
	if err := p.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cat, err := sizing.Embedded()
	if *catalog != "" {
		cat, err = sizing.LoadCatalog(*catalog)
	}
	if err != nil {
		return err
	}
	dirs := strings.Split(*resultsDirs, ",")
	if *resultsDirs == "" {
		dir, err := newestResults()
		if err != nil {
			return err
		}
		dirs = []string{dir}
	}
	t := sizing.Target{RPS: *rps, P99MS: float64(*p99) / float64(time.Millisecond), RespBytes: *respBytes}
	var profiles []sizing.Profile
	for _, dir := range dirs {
		run, err := results.Load(dir)
		if err != nil {
			return err
		}
		if run.Kind == results.KindHostile {
			return fmt.Errorf("%w: -results %s is a hostile run: size needs a local, compare or remote run", errUsage, dir)
		}
		prof, err := sizing.FromRun(run, dir, *proxy, t.P99MS, *p99Round == "median")
		if err != nil {
			return err
		}
		profiles = append(profiles, prof)
	}
	plan, err := sizing.Recommend(cat, t, profiles, p)
	if err != nil {
		return err
	}
	sizing.WriteTable(os.Stdout, plan, cat, *top)
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
