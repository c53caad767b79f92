// Package sizing turns measured knees into a fleet recommendation: how
// many instances of each type carry a target load at a latency goal,
// which limit binds each (CPU, bandwidth, packets per second, the
// internet gateway, tracked connections), and what the fleet costs. It
// plans from the measured knee, never beyond it, and says which
// measurements and assumptions every answer rests on.
package sizing

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
)

// Defaults of Params.
const (
	// DefaultTargetUtil is the share of each core and of each network
	// allowance a plan uses: queueing latency grows steeply as a core
	// nears 100%, and load is never flat.
	DefaultTargetUtil = 0.7
	// DefaultOverheadBytes is what a request/response exchange costs on
	// the wire besides the response body: the response head (~150 B), the
	// request (~100 B) and TCP/IP headers of the segments (~50 B).
	DefaultOverheadBytes = 300
	// DefaultScalingEff is assumed when the results measured one loop
	// count only: the per-core throughput at N loops relative to one.
	DefaultScalingEff = 0.85
	// DefaultCrossCPU is the factor assumed on per-core capacity when
	// the target instance's processor is not the one measured: a
	// planning assumption (a quarter slower), not a measurement. A remote
	// run on that instance type replaces it.
	DefaultCrossCPU = 0.75
	// DefaultSMT is the further factor when the target's vCPUs are
	// hyper-threads and the measured CPUs were whole cores: two threads
	// of a busy core give it little more than one thread alone, so each
	// vCPU is planned at 0.6 of a core. An assumption as well.
	DefaultSMT = 0.6
	// DefaultMSS is the TCP segment payload assumed for packet counts:
	// a 1500-byte MTU (internet clients) less 52 bytes of IP and TCP
	// headers with timestamps.
	DefaultMSS = 1448
	// DefaultClientConns is the concurrent client connections assumed
	// across the fleet for the per-flow and tracked-connection checks.
	DefaultClientConns = 1000
)

// responseHeadBytes is the response head counted into the segments of a
// response (the rest of DefaultOverheadBytes is the request and headers).
const responseHeadBytes = 150

// Network rules of EC2 ("Amazon EC2 instance network bandwidth", EC2
// User Guide; source "aws-bandwidth-rules" of the catalogue).
const (
	// perFlowGbps is the most one TCP connection carries between hosts
	// outside a cluster placement group.
	perFlowGbps = 5.0
	// perFlowPlacementGbps is the same inside one.
	perFlowPlacementGbps = 10.0
	// igwSmallGbps caps traffic through an internet gateway for
	// instances of fewer than igwVCPUs vCPUs.
	igwSmallGbps = 5.0
	// igwVCPUs is from where the gateway allows half the instance's
	// bandwidth (or igwSmallGbps, whichever is larger).
	igwVCPUs = 32
)

// Front is how clients reach the proxy instances.
const (
	// FrontNLB: an AWS Network Load Balancer forwards to the instances
	// inside the VPC.
	FrontNLB = "nlb"
	// FrontDirect: clients reach each instance's public address through
	// the internet gateway (DNS round robin over Elastic IPs).
	FrontDirect = "direct"
)

// Target is the load to carry.
type Target struct {
	RPS       float64
	P99MS     float64 // latency goal, milliseconds
	RespBytes int     // response body size
}

// Params are the model's knobs. Zero is a value, not "default": callers
// pass the Default constants (the size flags' defaults) when they mean
// them.
type Params struct {
	// TargetUtil is the share of each core and each network allowance a
	// plan uses, in (0, 1].
	TargetUtil float64
	// Headroom is load planned above Target.RPS (growth), as a fraction
	// of it, in [0, 1).
	Headroom float64
	// OverheadBytes is what an exchange costs on the wire besides the
	// response body; not negative.
	OverheadBytes int
	// ScalingEff is assumed when the profile has one loop count, in (0, 1].
	ScalingEff float64
	// CrossCPU and SMT are the factors assumed for an instance whose
	// processor was not measured, in (0, 1].
	CrossCPU, SMT float64
	// Extrapolate allows a response size outside the measured ones.
	Extrapolate bool
	// MinCount is the fewest instances of a fleet (2 for availability).
	MinCount int
	// Spare is instances added beyond those the load needs, so that the
	// fleet carries the load at TargetUtil with Spare of them down.
	Spare int
	// Front is FrontNLB or FrontDirect.
	Front string
	// MSS is the TCP payload per segment for the packet estimate.
	MSS int
	// ClientConns is the concurrent client connections across the fleet.
	ClientConns int
	// PlacementGroup is whether clients and proxies share a cluster
	// placement group (10 Gbit/s per flow instead of 5).
	PlacementGroup bool
}

// DefaultParams returns the defaults of every parameter.
func DefaultParams() Params {
	return Params{TargetUtil: DefaultTargetUtil, OverheadBytes: DefaultOverheadBytes, ScalingEff: DefaultScalingEff,
		CrossCPU: DefaultCrossCPU, SMT: DefaultSMT, MinCount: 2, Spare: 1, Front: FrontNLB, MSS: DefaultMSS,
		ClientConns: DefaultClientConns}
}

// Check reports a parameter out of its range (see Params) as ErrBadParams.
func (p Params) Check() error {
	in01 := func(x float64) bool { return x > 0 && x <= 1 }
	switch {
	case !in01(p.TargetUtil):
		return fmt.Errorf("%w: target utilisation %g is not in (0, 1]", ErrBadParams, p.TargetUtil)
	case !(p.Headroom >= 0 && p.Headroom < 1): // NaN fails too
		return fmt.Errorf("%w: headroom %g is not in [0, 1)", ErrBadParams, p.Headroom)
	case p.OverheadBytes < 0:
		return fmt.Errorf("%w: overhead %d bytes is negative", ErrBadParams, p.OverheadBytes)
	case !in01(p.ScalingEff) || !in01(p.CrossCPU) || !in01(p.SMT):
		return fmt.Errorf("%w: scaling %g, cross-CPU %g and SMT %g factors must be in (0, 1]", ErrBadParams, p.ScalingEff, p.CrossCPU, p.SMT)
	case p.MinCount < 1 || p.Spare < 0:
		return fmt.Errorf("%w: min count %d must be ≥ 1 and spare %d ≥ 0", ErrBadParams, p.MinCount, p.Spare)
	case p.Front != FrontNLB && p.Front != FrontDirect:
		return fmt.Errorf("%w: front %q: want %s or %s", ErrBadParams, p.Front, FrontNLB, FrontDirect)
	case p.MSS < 500 || p.ClientConns < 1:
		return fmt.Errorf("%w: MSS %d must be ≥ 500 and client connections %d ≥ 1", ErrBadParams, p.MSS, p.ClientConns)
	}
	return nil
}

// Limit is one thing that caps what an instance carries.
type Limit struct {
	// Name is "CPU", "bandwidth", "packets/s", "internet gateway" or
	// "tracked connections".
	Name string
	// MaxRPS is the most requests/s one instance carries under it at the
	// target utilisation; +Inf when the limit is unknown.
	MaxRPS float64
	// Known is false for a limit AWS does not publish and the catalogue
	// does not give: it is reported, never binding.
	Known bool
	// Util is the share of the limit MaxRPS stands for: the target
	// utilisation, or for CPU the knee's when lower.
	Util float64
	// Detail says how MaxRPS follows from the figures.
	Detail string
}

// Candidate is one instance type evaluated as a fleet.
type Candidate struct {
	Instance
	// Count is the instances of the fleet: those the load needs plus
	// Params.Spare, at least Params.MinCount.
	Count int
	// Needed is the instances the load needs at the target utilisation.
	Needed int
	// Limits are every limit of one instance; Binding is the lowest.
	Limits  []Limit
	Binding Limit
	// Use is the share of the binding limit (of the CPU: how busy) each
	// instance is with all Count up; at most the target utilisation.
	Use float64
	// AfterFailure is the same for each survivor when one instance is
	// down.
	AfterFailure float64
	// BlastRadius is the share of the capacity one failure takes: 1/Count.
	BlastRadius float64
	// CPU is the per-core capacity factor used and why.
	CPU CPUMatch
	// Profile is the results folder the capacity came from.
	Profile    string
	MonthlyUSD float64
}

// Plan is a recommendation.
type Plan struct {
	Target Target
	Params Params
	// Load is Target.RPS with headroom.
	Load float64
	// Core is the capacity of one measured core at the target size.
	Core    CoreCapacity
	Scaling Scaling
	// PacketsPerRequest is what the packet checks used; PacketsMeasured
	// says whether it was measured (remote) or estimated.
	PacketsPerRequest float64
	PacketsMeasured   bool
	// GbpsPerRequest is bits per request each way, in Gbit.
	GbpsPerRequest float64
	// PerFlowGbps is what an average client connection carries, against
	// PerFlowCap; no instance count changes it.
	PerFlowGbps, PerFlowCap float64
	Candidates              []Candidate
	Profiles                []Profile
}

// Recommend evaluates every instance of cat as a fleet carrying t and
// ranks them by monthly cost, then by blast radius (more, smaller
// instances lose less to one failure). profiles[0] is the primary
// measurement; an instance whose processor another profile measured uses
// that one instead, with no cross-CPU assumption.
func Recommend(cat Catalog, t Target, profiles []Profile, p Params) (Plan, error) {
	if !(t.RPS > 0) || !(t.P99MS > 0) || t.RespBytes < 0 {
		return Plan{}, fmt.Errorf("%w: want rps > 0, p99 > 0 and response bytes ≥ 0", ErrBadTarget)
	}
	if err := p.Check(); err != nil {
		return Plan{}, err
	}
	if len(profiles) == 0 {
		return Plan{}, fmt.Errorf("%w: no measurements", ErrNoCapacity)
	}
	plan := Plan{Target: t, Params: p, Load: t.RPS * (1 + p.Headroom), Profiles: profiles}
	type capacity struct {
		core    CoreCapacity
		scaling Scaling
	}
	caps := make([]capacity, len(profiles))
	for i, pr := range profiles {
		core, err := pr.PerCore(t.RespBytes, p.TargetUtil, p.Extrapolate)
		if err != nil {
			if i == 0 {
				return Plan{}, err
			}
			continue // a secondary profile that cannot answer is skipped
		}
		var sizes []int
		for _, k := range core.Knees {
			sizes = append(sizes, k.RespBytes)
		}
		caps[i] = capacity{core, pr.Scaling(sizes, p.ScalingEff)}
	}
	plan.Core, plan.Scaling = caps[0].core, caps[0].scaling
	plan.GbpsPerRequest = float64(t.RespBytes+p.OverheadBytes) * 8 / 1e9
	plan.PacketsPerRequest, plan.PacketsMeasured = plan.Core.PacketsPerRequest, plan.Core.PacketsPerRequest > 0
	if !plan.PacketsMeasured {
		plan.PacketsPerRequest = EstimatePackets(t.RespBytes, p.MSS)
	}
	plan.PerFlowCap = perFlowGbps
	if p.PlacementGroup {
		plan.PerFlowCap = perFlowPlacementGbps
	}
	plan.PerFlowGbps = plan.Load * plan.GbpsPerRequest / float64(p.ClientConns)

	for _, in := range cat.Instances {
		pi, match := chooseProfile(profiles, in, cat, p)
		if caps[pi].core.RPS == 0 {
			pi, match = 0, cpuFactor(profiles[0].Host, in, cat, p)
		}
		c := Candidate{Instance: in, CPU: match, Profile: profiles[pi].Dir}
		c.Limits = limits(in, caps[pi].core, caps[pi].scaling, match.Factor, plan, p)
		c.Binding = c.Limits[0]
		for _, l := range c.Limits[1:] {
			if l.MaxRPS < c.Binding.MaxRPS {
				c.Binding = l
			}
		}
		c.Needed = int(math.Ceil(plan.Load/c.Binding.MaxRPS - 1e-9))
		c.Count = max(p.MinCount, c.Needed+p.Spare)
		perInstance := plan.Load / float64(c.Count)
		c.Use = c.Binding.Util * perInstance / c.Binding.MaxRPS
		if c.Count > 1 {
			c.AfterFailure = c.Binding.Util * plan.Load / float64(c.Count-1) / c.Binding.MaxRPS
		}
		c.BlastRadius = 1 / float64(c.Count)
		c.MonthlyUSD = float64(c.Count) * in.USDPerHour * cat.HoursPerMonth
		plan.Candidates = append(plan.Candidates, c)
	}
	slices.SortStableFunc(plan.Candidates, func(a, b Candidate) int {
		if d := a.MonthlyUSD - b.MonthlyUSD; math.Abs(d) > 0.005 {
			return cmp.Compare(a.MonthlyUSD, b.MonthlyUSD)
		}
		return cmp.Compare(a.BlastRadius, b.BlastRadius)
	})
	return plan, nil
}

// EstimatePackets is the packets in plus out at the proxy for one
// exchange with a body of size bytes: on the client side the request
// in, S response segments out and an ACK in per two segments (delayed
// ACK); the same again towards the backend. The ENA packet allowance
// counts both directions.
func EstimatePackets(size, mss int) float64 {
	segs := (size + responseHeadBytes + mss - 1) / mss
	return float64(2 * (1 + segs + (segs+1)/2))
}

// limits returns every limit of one instance, CPU first.
func limits(in Instance, core CoreCapacity, sc Scaling, factor float64, plan Plan, p Params) []Limit {
	n := float64(in.VCPUs)
	eff := 1.0
	if in.VCPUs > 1 {
		eff = sc.Eff
	}
	cpu := Limit{Name: "CPU", Known: true, Util: core.Util, MaxRPS: core.RPS * factor * n * eff,
		Detail: fmt.Sprintf("%.0f req/s per core × %.2f CPU factor × %d vCPUs × %.2f scaling", core.RPS, factor, in.VCPUs, eff)}
	bits := plan.GbpsPerRequest
	bw := Limit{Name: "bandwidth", Known: true, Util: p.TargetUtil, MaxRPS: p.TargetUtil * in.BaselineGbps / bits,
		Detail: fmt.Sprintf("%.0f%% of %g Gbit/s baseline each way ÷ %.0f bits per request", 100*p.TargetUtil, in.BaselineGbps, bits*1e9)}
	pps := Limit{Name: "packets/s", Util: p.TargetUtil, MaxRPS: math.Inf(1),
		Detail: fmt.Sprintf("%.1f packets per request; allowance not published for %s (watch pps_allowance_exceeded)", plan.PacketsPerRequest, in.Type)}
	if in.PPSLimit > 0 {
		pps.Known, pps.MaxRPS = true, p.TargetUtil*in.PPSLimit/plan.PacketsPerRequest
		pps.Detail = fmt.Sprintf("%.0f%% of %.0f packets/s ÷ %.1f packets per request", 100*p.TargetUtil, in.PPSLimit, plan.PacketsPerRequest)
	}
	out := []Limit{cpu, bw, pps}
	if p.Front == FrontDirect {
		gw := igwSmallGbps
		if in.VCPUs >= igwVCPUs {
			gw = math.Max(in.BaselineGbps/2, igwSmallGbps)
		}
		out = append(out, Limit{Name: "internet gateway", Known: true, Util: p.TargetUtil, MaxRPS: p.TargetUtil * gw / bits,
			Detail: fmt.Sprintf("%.0f%% of %g Gbit/s through the internet gateway (%d vCPUs) ÷ %.0f bits per request", 100*p.TargetUtil, gw, in.VCPUs, bits*1e9)})
	}
	ct := Limit{Name: "tracked connections", Util: p.TargetUtil, MaxRPS: math.Inf(1),
		Detail: fmt.Sprintf("%d client connections across the fleet; allowance not published for %s (watch conntrack_allowance_available)", p.ClientConns, in.Type)}
	if in.ConntrackLimit > 0 {
		// Connections spread like requests: an instance carrying r of the
		// load's requests/s holds ClientConns × r / load of them.
		ct.Known, ct.MaxRPS = true, p.TargetUtil*in.ConntrackLimit*plan.Load/float64(p.ClientConns)
		ct.Detail = fmt.Sprintf("%.0f%% of %.0f tracked connections, with %d client connections spread like the load", 100*p.TargetUtil, in.ConntrackLimit, p.ClientConns)
	}
	return append(out, ct)
}

// CPUMatch is the factor applied to the measured per-core capacity for
// one instance type, and why.
type CPUMatch struct {
	Factor float64
	// Measured is true when the instance's processor is the one measured.
	Measured bool
	Note     string
}

// chooseProfile picks the profile measured on in's processor: the same
// family first, then the same CPU and threads per core; else the primary
// with the cross-CPU assumption.
func chooseProfile(profiles []Profile, in Instance, cat Catalog, p Params) (int, CPUMatch) {
	for pass := range 2 {
		for i, pr := range profiles {
			if m := cpuFactor(pr.Host, in, cat, p); m.Measured && (pass == 1 || Family(pr.Host.InstanceType) == Family(in.Type)) {
				return i, m
			}
		}
	}
	return 0, cpuFactor(profiles[0].Host, in, cat, p)
}

// cpuFactor compares the measured host with instance in.
func cpuFactor(host procstat.Machine, in Instance, cat Catalog, p Params) CPUMatch {
	if host.InstanceType != "" {
		if Family(host.InstanceType) == Family(in.Type) {
			return CPUMatch{Factor: 1, Measured: true, Note: "measured on " + host.InstanceType}
		}
		if h, ok := cat.byFamily(Family(host.InstanceType)); ok && h.CPU == in.CPU && h.ThreadsPerCore == in.ThreadsPerCore {
			return CPUMatch{Factor: 1, Measured: true, Note: fmt.Sprintf("same processor (%s) as the measured %s", in.CPU, host.InstanceType)}
		}
	}
	measured := host.CPUModel
	if measured == "" {
		measured = "an unknown CPU"
	}
	if host.Arch != "" {
		measured += " (" + host.Arch + ")"
	}
	m := CPUMatch{Factor: p.CrossCPU, Note: fmt.Sprintf("ASSUMED ×%.2f (-cpu-factor): measured on %s, not on this processor", p.CrossCPU, measured)}
	if in.ThreadsPerCore > 1 && host.ThreadsPerCore < 2 {
		m.Factor *= p.SMT
		m.Note += fmt.Sprintf("; its vCPUs are hyper-threads and the measured CPUs whole cores: ×%.2f more (-smt-factor)", p.SMT)
	}
	return m
}
