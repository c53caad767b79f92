package sizing

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// step is one round of a measured step.
func step(loops, size, conns, round int, rps, p99, cores float64) results.Step {
	cpu := 0.0
	if cores > 0 {
		cpu = cores / rps * 1e6
	}
	return results.Step{Proxy: "pilb", Loops: loops, RespBytes: size, Conns: conns, Round: round, ProxyCores: cores, CPUPerRequestUS: cpu,
		Load: load.Result{Requests: 1000, RPS: rps, Latency: load.Latency{P99: p99}}}
}

// rounds is a step run three times, the rates spread ±10% around rps.
func rounds(loops, size, conns int, rps, p99, cores float64) []results.Step {
	return []results.Step{step(loops, size, conns, 1, rps*0.9, p99, cores*0.9), step(loops, size, conns, 2, rps, p99, cores),
		step(loops, size, conns, 3, rps*1.1, p99, cores*1.1)}
}

var amdHost = procstat.Machine{CPUModel: "AMD EPYC", Arch: "amd64", CPUs: 2, ThreadsPerCore: 1}

func profileOf(t *testing.T, host procstat.Machine, steps ...[]results.Step) Profile {
	t.Helper()
	run := &results.Run{Kind: "compare", Machine: host}
	for _, s := range steps {
		run.Steps = append(run.Steps, s...)
	}
	p, err := FromRun(run, "test", "pilb", 5, false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The knee is the highest median req/s among steps that met the p99
// target in every round without errors; the plan uses the core at
// -target-util, or at the knee's own utilisation when lower, never more.
func TestKnee(t *testing.T) {
	// 10 µs per request everywhere; the knee (64 conns) ran the core 90%
	// busy; 256 conns missed the p99 in one round; 1024 had errors.
	bad := rounds(1, 1024, 1024, 95000, 3, 0.95)
	bad[1].Load.Errors = 5
	missed := rounds(1, 1024, 256, 92000, 3, 0.92)
	missed[2].Load.Latency.P99 = 6
	p := profileOf(t, amdHost, rounds(1, 1024, 16, 50000, 1, 0.5), rounds(1, 1024, 64, 90000, 4, 0.9), missed, bad)
	k := p.Knees[1][1024]
	if k.Conns != 64 || k.RPS.Median != 90000 || math.Abs(k.Util()-0.9) > 1e-9 {
		t.Fatalf("knee %+v, want 64 conns at 90000 req/s, 90%% busy", k)
	}
	c, err := p.PerCore(1024, 0.7, false)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.RPS-70000) > 1e-6 || c.Util != 0.7 || !strings.Contains(strings.Join(c.Steps, "\n"), "(-target-util)") {
		t.Errorf("per core %+v, want 70000 req/s at 70%%", c)
	}
	// A knee measured only 50% busy (the load generator saturated) is
	// planned at 50%, not extrapolated to -target-util or to 100%.
	p = profileOf(t, amdHost, rounds(1, 1024, 64, 50000, 1, 0.5))
	c, _ = p.PerCore(1024, 0.7, false)
	if math.Abs(c.RPS-50000) > 1e-6 || c.Util != 0.5 || !strings.Contains(strings.Join(c.Steps, "\n"), "knee's own utilisation") {
		t.Errorf("per core %+v, want 50000 req/s at the knee's 50%%", c)
	}
	// One disturbed round misses the target: no knee there by default;
	// judged by the median round it is one.
	run := &results.Run{Machine: amdHost, Steps: missed}
	if p, _ := FromRun(run, "t", "pilb", 5, false); len(p.Knees[1]) != 0 {
		t.Errorf("worst-round rule took %+v", p.Knees[1])
	}
	if p, _ := FromRun(run, "t", "pilb", 5, true); p.Knees[1][1024].Conns != 256 || !strings.Contains(p.Knees[1][1024].String(), "median p99") {
		t.Errorf("median-round rule: %+v", p.Knees[1])
	}
	// Nothing met the target.
	p = profileOf(t, amdHost, rounds(1, 1024, 64, 50000, 9, 0.5))
	if _, err := p.PerCore(1024, 0.7, false); !errors.Is(err, ErrNoCapacity) {
		t.Errorf("err = %v, want ErrNoCapacity", err)
	}
}

// Between measured sizes the cost per request is interpolated; outside
// them the answer is refused unless -extrapolate, and the steps say
// which measured sizes it rests on.
func TestSizeInterpolation(t *testing.T) {
	// 1 KiB: 10 µs per request; 16 KiB: 20 µs; 1 MiB: 500 µs. All knees 100% busy.
	p := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1), rounds(1, 16384, 64, 50000, 1, 1), rounds(1, 1<<20, 16, 2000, 4, 1))
	c, err := p.PerCore(8704, 1, false) // halfway between 1 KiB and 16 KiB: 15 µs
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.Cost-15e-6) > 1e-12 || math.Abs(c.RPS-1/15e-6) > 1e-6 || len(c.Knees) != 2 ||
		c.Knees[0].RespBytes != 1024 || c.Knees[1].RespBytes != 16384 {
		t.Errorf("per core %+v, want 15 µs from the 1 KiB and 16 KiB knees", c)
	}
	if !strings.Contains(c.Steps[0], "between two measured sizes") || !strings.Contains(c.Steps[0], "16384-byte") {
		t.Errorf("steps do not name the measured sizes: %q", c.Steps)
	}
	// 2 MiB is above 1 MiB: refused without -extrapolate.
	if _, err := p.PerCore(2<<20, 1, false); !errors.Is(err, ErrExtrapolate) {
		t.Errorf("2 MiB: err = %v, want ErrExtrapolate", err)
	}
	// With it, the line through 16 KiB and 1 MiB goes on: 500 µs + 480 µs × (1 MiB / (1 MiB − 16 KiB)).
	c, err = p.PerCore(2<<20, 1, true)
	want := 500e-6 + (500e-6-20e-6)*float64(1<<20)/float64((1<<20)-16384)
	if err != nil || math.Abs(c.Cost-want) > 1e-12 || !strings.Contains(c.Steps[0], "EXTRAPOLATED") {
		t.Errorf("2 MiB extrapolated: %+v, %v; want cost %g", c, err, want)
	}
	// Below the smallest size: refused, then bounded by the smallest's cost.
	if _, err := p.PerCore(0, 1, false); !errors.Is(err, ErrExtrapolate) {
		t.Errorf("0 B: err = %v, want ErrExtrapolate", err)
	}
	if c, err = p.PerCore(0, 1, true); err != nil || math.Abs(c.Cost-10e-6) > 1e-12 {
		t.Errorf("0 B extrapolated: %+v, %v; want the 1 KiB cost", c, err)
	}
	// One measured size cannot be extended upwards even with the flag.
	one := profileOf(t, amdHost, rounds(1, 0, 64, 100000, 1, 1))
	if _, err := one.PerCore(2048, 1, true); !errors.Is(err, ErrExtrapolate) {
		t.Errorf("one size, 2 KiB: err = %v, want ErrExtrapolate", err)
	}
	// A bracketing size with no knee is no answer.
	gap := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1), rounds(1, 16384, 64, 50000, 9, 1))
	if _, err := gap.PerCore(2048, 1, false); !errors.Is(err, ErrNoCapacity) {
		t.Errorf("no knee at 16 KiB: err = %v, want ErrNoCapacity", err)
	}
}

// Scaling efficiency comes from CPU per request at 1 and N loops.
func TestScaling(t *testing.T) {
	p := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1), rounds(2, 1024, 64, 160000, 1, 2))
	s := p.Scaling([]int{1024}, DefaultScalingEff)
	// 10 µs at 1 loop, 12.5 µs at 2: 0.8.
	if math.Abs(s.Eff-0.8) > 1e-9 || s.MaxLoops != 2 || !strings.Contains(s.Line, "beyond 2 loops") {
		t.Errorf("scaling %+v", s)
	}
	if s := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1)).Scaling([]int{1024}, 0.85); s.Eff != 0.85 || !strings.Contains(s.Line, "ASSUMED") {
		t.Errorf("one loop count: %+v", s)
	}
}

// testCatalog has a small and a large instance of one processor, an x86
// one with hyper-threads, and optionally PPS figures.
func testCatalog(t *testing.T, pps float64) Catalog {
	t.Helper()
	src := `{"region": "test", "currency": "USD", "sources": {"p": {"what": "test", "as_of": "2026-01-01"}},
	  "front": {"name": "NLB", "usd_per_hour": 0.0225, "as_of": "2025", "source": "p"},
	  "instances": [
	    {"type": "g9.large", "arch": "arm64", "cpu": "Graviton9", "vcpus": 2, "baseline_gbps": 1, "usd_per_hour": 0.10, "price_as_of": "2026-01-01", "price_source": "p", "network_source": "p", "pps_limit": PPS},
	    {"type": "g9.4xlarge", "arch": "arm64", "cpu": "Graviton9", "vcpus": 16, "baseline_gbps": 8, "usd_per_hour": 0.80, "price_as_of": "2026-01-01", "price_source": "p", "network_source": "p", "pps_limit": PPS},
	    {"type": "h9.xlarge", "arch": "x86_64", "cpu": "Xeon9", "threads_per_core": 2, "vcpus": 4, "baseline_gbps": 2, "usd_per_hour": 0.20, "price_as_of": "2026-01-01", "price_source": "p", "network_source": "p"}
	  ]}`
	cat, err := parseCatalog([]byte(strings.ReplaceAll(src, "PPS", strconv.FormatFloat(pps, 'f', -1, 64))))
	if err != nil {
		t.Fatal(err)
	}
	cat.Path = "test catalogue"
	return cat
}

// The measured processor gets factor 1; another one is assumed, with a
// warning, and hyper-threaded vCPUs are assumed further; a profile
// measured on a family replaces the assumption for that family and for
// families of the same processor.
func TestCPUFactor(t *testing.T) {
	cat := testCatalog(t, 0)
	p := DefaultParams()
	g9, h9 := cat.Instances[0], cat.Instances[2]
	m := cpuFactor(amdHost, g9, cat, p)
	if m.Measured || m.Factor != DefaultCrossCPU || !strings.Contains(m.Note, "ASSUMED") || !strings.Contains(m.Note, "AMD EPYC (amd64)") {
		t.Errorf("EPYC laptop -> g9: %+v", m)
	}
	if m := cpuFactor(amdHost, h9, cat, p); math.Abs(m.Factor-DefaultCrossCPU*DefaultSMT) > 1e-12 || !strings.Contains(m.Note, "hyper-threads") {
		t.Errorf("EPYC laptop -> h9 (HT): %+v", m)
	}
	remote := procstat.Machine{CPUModel: "Graviton9", Arch: "arm64", InstanceType: "g9.xlarge", ThreadsPerCore: 1}
	if m := cpuFactor(remote, g9, cat, p); !m.Measured || m.Factor != 1 {
		t.Errorf("remote on g9.xlarge -> g9.large: %+v", m)
	}
	// A remote profile answers for its family; the laptop one for the rest.
	local := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1))
	onG9 := profileOf(t, remote, rounds(1, 1024, 64, 50000, 1, 1))
	i, m := chooseProfile([]Profile{local, onG9}, g9, cat, p)
	if i != 1 || !m.Measured {
		t.Errorf("chooseProfile(g9) = %d %+v, want the remote one", i, m)
	}
	if i, m := chooseProfile([]Profile{local, onG9}, h9, cat, p); i != 0 || m.Measured {
		t.Errorf("chooseProfile(h9) = %d %+v, want the primary, assumed", i, m)
	}
}

// Small responses reach the packet allowance long before the bandwidth:
// PPS binds and is named.
func TestPPSBindsBeforeBandwidth(t *testing.T) {
	cat := testCatalog(t, 300000)
	// 1 µs per request: CPU is never the limit here.
	prof := profileOf(t, amdHost, rounds(1, 12, 64, 1e6, 1, 1))
	p := DefaultParams()
	plan, err := Recommend(cat, Target{RPS: 100000, P99MS: 5, RespBytes: 12}, []Profile{prof}, p)
	if err != nil {
		t.Fatal(err)
	}
	if plan.PacketsPerRequest != 6 || plan.PacketsMeasured {
		t.Fatalf("packets %v measured %v, want 6 estimated", plan.PacketsPerRequest, plan.PacketsMeasured)
	}
	for _, c := range plan.Candidates {
		if c.Type != "g9.large" {
			continue
		}
		// bandwidth: 0.7 × 1 Gbit/s ÷ 2496 bits = 280k req/s; packets: 0.7 × 300k ÷ 6 = 35k req/s.
		if c.Binding.Name != "packets/s" || math.Abs(c.Binding.MaxRPS-35000) > 1e-6 {
			t.Errorf("g9.large binding %+v, want packets/s at 35000 req/s", c.Binding)
		}
		// 100k ÷ 35k = 2.86 -> 3 needed + 1 spare.
		if c.Needed != 3 || c.Count != 4 {
			t.Errorf("g9.large needed %d count %d, want 3 and 4", c.Needed, c.Count)
		}
	}
	// Without a published PPS figure, bandwidth binds and packets are only reported.
	plan, _ = Recommend(testCatalog(t, 0), Target{RPS: 100000, P99MS: 5, RespBytes: 12}, []Profile{prof}, p)
	for _, c := range plan.Candidates {
		if c.Type == "g9.large" && (c.Binding.Name == "packets/s" || c.Limits[2].Known) {
			t.Errorf("unknown PPS bound: %+v", c.Binding)
		}
	}
	// Large responses: bandwidth binds.
	prof = profileOf(t, amdHost, rounds(1, 1<<20, 16, 1e5, 1, 1))
	plan, _ = Recommend(cat, Target{RPS: 100, P99MS: 5, RespBytes: 1 << 20}, []Profile{prof}, p)
	for _, c := range plan.Candidates {
		if c.Type == "g9.large" && c.Binding.Name != "bandwidth" {
			t.Errorf("1 MiB: g9.large binds on %s, want bandwidth", c.Binding.Name)
		}
	}
}

// Fleets are ranked by monthly cost, then by blast radius; at least two
// instances and one spare by default; one large against many small.
func TestFleetRanking(t *testing.T) {
	cat := testCatalog(t, 0)
	// 10 µs per request, knee 100% busy: 70k req/s per core at 70%.
	prof := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1), rounds(2, 1024, 64, 200000, 1, 2))
	p := DefaultParams()
	plan, err := Recommend(cat, Target{RPS: 150000, P99MS: 5, RespBytes: 1024}, []Profile{prof}, p)
	if err != nil {
		t.Fatal(err)
	}
	// Per core with the cross-CPU factor: 70000 × 0.75 = 52500.
	// g9.large: 2 × 52500 = 105000 CPU; bandwidth 0.7e9 ÷ 10592 bits = 66088 -> binds; 150k -> 3 + 1 = 4 × $73 = $292.
	// g9.4xlarge: 16 × 52500 = 840000 CPU; bandwidth 5.6e9 ÷ 10592 = 528701; 1 + 1 = 2 × $584 = $1168.
	// h9.xlarge: 4 × 52500 × 0.6 = 126000 CPU; bandwidth 1.4e9 ÷ 10592 = 132175; CPU binds: 2 + 1 = 3 × $146 = $438.
	want := []struct {
		typ     string
		count   int
		binds   string
		monthly float64
	}{{"g9.large", 4, "bandwidth", 292}, {"h9.xlarge", 3, "CPU", 438}, {"g9.4xlarge", 2, "bandwidth", 1168}}
	for i, w := range want {
		c := plan.Candidates[i]
		if c.Type != w.typ || c.Count != w.count || c.Binding.Name != w.binds || math.Abs(c.MonthlyUSD-w.monthly) > 0.01 {
			t.Errorf("rank %d: %d × %s binds %s $%.2f; want %d × %s binds %s $%.2f", i+1, c.Count, c.Type, c.Binding.Name, c.MonthlyUSD,
				w.count, w.typ, w.binds, w.monthly)
		}
	}
	small := plan.Candidates[0]
	if small.BlastRadius != 0.25 || small.AfterFailure > p.TargetUtil+1e-9 {
		t.Errorf("g9.large blast radius %v, after a failure %v; want 1/4 and at most the target", small.BlastRadius, small.AfterFailure)
	}
	// One large instance when the operator allows it: 1 × g9.4xlarge, no spare.
	p.MinCount, p.Spare = 1, 0
	plan, _ = Recommend(cat, Target{RPS: 150000, P99MS: 5, RespBytes: 1024}, []Profile{prof}, p)
	for _, c := range plan.Candidates {
		if c.Type == "g9.4xlarge" && (c.Count != 1 || c.BlastRadius != 1 || c.AfterFailure != 0) {
			t.Errorf("single large: %+v", c)
		}
	}
	// At the same cost the fleet of more instances ranks first: one
	// failure takes less. g9.large: 3 needed + 1 = 4 × $0.10; g9.2xlarge
	// (bandwidth 0.7 × 4 Gbit/s ÷ 10592 bits = 264k req/s): 1 + 1 = 2 × $0.20.
	cat = testCatalog(t, 0)
	cat.Instances = []Instance{cat.Instances[1], cat.Instances[0]}
	cat.Instances[0].Type, cat.Instances[0].VCPUs, cat.Instances[0].BaselineGbps, cat.Instances[0].USDPerHour = "g9.2xlarge", 8, 4, 0.2
	plan, _ = Recommend(cat, Target{RPS: 150000, P99MS: 5, RespBytes: 1024}, []Profile{prof}, DefaultParams())
	if a, b := plan.Candidates[0], plan.Candidates[1]; a.Type != "g9.large" || a.Count != 4 || b.Count != 2 || math.Abs(a.MonthlyUSD-b.MonthlyUSD) > 0.01 {
		t.Errorf("tie: %d × %s $%.2f then %d × %s $%.2f; want 4 × g9.large first", a.Count, a.Type, a.MonthlyUSD, b.Count, b.Type, b.MonthlyUSD)
	}
}

// Behind no load balancer the internet gateway caps small instances at
// 5 Gbit/s; behind an NLB it does not apply.
func TestInternetGatewayCap(t *testing.T) {
	cat := testCatalog(t, 0)
	cat.Instances[1].BaselineGbps = 12.5 // g9.4xlarge: 16 vCPUs, above the gateway's 5
	prof := profileOf(t, amdHost, rounds(1, 1<<20, 16, 1e5, 1, 1))
	p := DefaultParams()
	p.Front = FrontDirect
	plan, err := Recommend(cat, Target{RPS: 1000, P99MS: 5, RespBytes: 1 << 20}, []Profile{prof}, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Candidates {
		if c.Type == "g9.4xlarge" && c.Binding.Name != "internet gateway" {
			t.Errorf("direct: g9.4xlarge binds on %s, want the internet gateway", c.Binding.Name)
		}
	}
	p.Front = FrontNLB
	plan, _ = Recommend(cat, Target{RPS: 1000, P99MS: 5, RespBytes: 1 << 20}, []Profile{prof}, p)
	for _, c := range plan.Candidates {
		if c.Type == "g9.4xlarge" && c.Binding.Name != "bandwidth" {
			t.Errorf("NLB: g9.4xlarge binds on %s, want bandwidth", c.Binding.Name)
		}
	}
}

func TestRecommendRejectsBadInput(t *testing.T) {
	cat := testCatalog(t, 0)
	prof := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1))
	if _, err := Recommend(cat, Target{RPS: 0, P99MS: 5}, []Profile{prof}, DefaultParams()); !errors.Is(err, ErrBadTarget) {
		t.Errorf("rps 0: err = %v", err)
	}
	for _, mod := range []func(*Params){
		func(p *Params) { p.TargetUtil = 0 }, func(p *Params) { p.TargetUtil = 1.2 }, func(p *Params) { p.Headroom = 1 },
		func(p *Params) { p.Headroom = math.NaN() }, func(p *Params) { p.OverheadBytes = -1 }, func(p *Params) { p.MinCount = 0 },
		func(p *Params) { p.Spare = -1 }, func(p *Params) { p.Front = "alb" }, func(p *Params) { p.CrossCPU = 0 },
	} {
		p := DefaultParams()
		mod(&p)
		if _, err := Recommend(cat, Target{RPS: 1, P99MS: 5, RespBytes: 1024}, []Profile{prof}, p); !errors.Is(err, ErrBadParams) {
			t.Errorf("Recommend(%+v): err = %v, want ErrBadParams", p, err)
		}
	}
}

// The embedded catalogue has the current families, each price with its
// date and source; a catalogue without them is refused.
func TestCatalog(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]bool{}
	for _, in := range cat.Instances {
		families[Family(in.Type)] = true
		if in.PPSLimit != 0 || in.ConntrackLimit != 0 {
			t.Errorf("%s has a PPS or conntrack figure: AWS publishes none", in.Type)
		}
	}
	for _, f := range []string{"c7a", "c7i", "c8g", "c8gn", "c6in", "m7g", "m8g", "c7g", "c7gn", "c6gn", "c6i"} {
		if !families[f] {
			t.Errorf("catalogue lacks %s", f)
		}
	}
	for _, bad := range []string{
		`{"instances": []}`,
		`{"sources": {"p": {}}, "instances": [{"type": "x.large", "arch": "arm64", "cpu": "c", "vcpus": 2, "baseline_gbps": 1, "usd_per_hour": 0.1, "price_source": "p", "network_source": "p"}]}`,
		`{"sources": {"p": {}}, "instances": [{"type": "x.large", "arch": "arm64", "cpu": "c", "vcpus": 2, "baseline_gbps": 1, "usd_per_hour": 0.1, "price_as_of": "2026", "price_source": "q", "network_source": "p"}]}`,
		`{"sources": {"p": {}}, "instances": [{"type": "x.large", "arch": "mips", "cpu": "c", "vcpus": 2, "baseline_gbps": 1, "usd_per_hour": 0.1, "price_as_of": "2026", "price_source": "p", "network_source": "p"}]}`,
	} {
		if _, err := parseCatalog([]byte(bad)); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("parseCatalog(%s): err = %v, want ErrBadCatalog", bad, err)
		}
	}
	path := filepath.Join(t.TempDir(), "mine.json")
	own := `{"sources": {"me": {"what": "my quote", "as_of": "2026-11"}}, "instances": [{"type": "c8g.large", "arch": "arm64", "cpu": "AWS Graviton4", "vcpus": 2, "baseline_gbps": 0.937, "usd_per_hour": 0.05, "price_as_of": "2026-11", "price_source": "me", "network_source": "me"}]}`
	if err := os.WriteFile(path, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadCatalog(path); err != nil || len(c.Instances) != 1 || c.Path != path || c.HoursPerMonth != 730 {
		t.Errorf("LoadCatalog = %+v, %v", c, err)
	}
}

// The printed answer names the knee, the sizes it rests on, the
// assumptions and the binding limit.
func TestWriteTable(t *testing.T) {
	cat := testCatalog(t, 0)
	prof := profileOf(t, amdHost, rounds(1, 1024, 64, 100000, 1, 1), rounds(1, 16384, 64, 50000, 1, 1))
	plan, err := Recommend(cat, Target{RPS: 50000, P99MS: 5, RespBytes: 2048}, []Profile{prof}, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteTable(&b, plan, cat, 0)
	out := b.String()
	for _, want := range []string{"between two measured sizes", "1024-byte responses", "16384-byte responses", "(-target-util)",
		"scaling efficiency 0.85 ASSUMED", "NIC interrupt CPU is LEFT OUT", "ESTIMATED", "Answer: ", "WARNING",
		"Front: NLB", "Backends: pilb takes a static -backends list", "[p] test (as of 2026-01-01)", "| 1 | "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
