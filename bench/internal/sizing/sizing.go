// Package sizing turns measured per-core capacity into an instance
// recommendation: how many vCPUs a target load needs at a latency goal,
// whether the instance's network carries it, and what it costs.
package sizing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
)

// instancesJSON is the instance catalogue; update it in place (see its
// "source" and "as_of").
//
//go:embed instances.json
var instancesJSON []byte

// Defaults of Params.
const (
	// DefaultHeadroom plans 30% more CPU and network than the target:
	// load is never flat, and a proxy near 100% CPU has queueing latency
	// far above the p99 it was measured at.
	DefaultHeadroom = 0.30
	// DefaultOverheadBytes is what a request/response exchange costs on
	// the wire besides the response body: the response head (~150 B), the
	// request (~100 B) and TCP/IP headers of the segments (~50 B).
	DefaultOverheadBytes = 300
	// DefaultScalingEff is assumed when the results measured one loop
	// count only: the per-core throughput at N loops relative to one.
	DefaultScalingEff = 0.85
)

// Catalog is the instance data file.
type Catalog struct {
	Region        string     `json:"region"`
	Currency      string     `json:"currency"`
	AsOf          string     `json:"as_of"`
	Source        string     `json:"source"`
	HoursPerMonth float64    `json:"hours_per_month"`
	Instances     []Instance `json:"instances"`
}

// Instance is one instance type's published figures.
type Instance struct {
	Type         string  `json:"type"`
	Arch         string  `json:"arch"`
	VCPUs        int     `json:"vcpus"`
	MemoryGiB    float64 `json:"memory_gib"`
	BaselineGbps float64 `json:"baseline_gbps"`
	BurstGbps    float64 `json:"burst_gbps"`
	USDPerHour   float64 `json:"usd_per_hour"`
}

// Embedded returns the catalogue compiled into the binary.
func Embedded() (Catalog, error) { return parseCatalog(instancesJSON) }

// LoadCatalog reads a catalogue file of the same format.
func LoadCatalog(path string) (Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Catalog{}, err
	}
	return parseCatalog(b)
}

func parseCatalog(b []byte) (Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("sizing: instance catalogue: %w", err)
	}
	if c.HoursPerMonth == 0 {
		c.HoursPerMonth = 730
	}
	return c, nil
}

// Target is the load to carry.
type Target struct {
	RPS       float64
	P99MS     float64 // latency goal, milliseconds
	RespBytes int     // response body size
}

// Capacity is what one proxy core does at the target latency.
type Capacity struct {
	// PerCoreRPS is requests/s of one loop on one core meeting the p99.
	PerCoreRPS float64
	// ScalingEff is the per-core throughput at N loops relative to one
	// loop, in (0, 1]: capacity(n) = PerCoreRPS × n × ScalingEff for n ≥ 2.
	ScalingEff float64
	// Source says how the figures were obtained, for the report.
	Source string
}

// Params are the model's knobs. Zero is a value, not "default": callers
// pass DefaultHeadroom and DefaultOverheadBytes (the size flags' defaults)
// when they mean them.
type Params struct {
	// Headroom is the capacity planned above Target.RPS, as a fraction of
	// it: 0.3 plans for 1.3 × RPS. 0 plans for the target exactly; it
	// must be below 1.
	Headroom float64
	// OverheadBytes is what an exchange costs on the wire besides the
	// response body; not negative.
	OverheadBytes int
}

// Candidate is one instance type evaluated against the target.
type Candidate struct {
	Instance
	// Count is how many instances carry the target (1 when one does).
	Count int
	// CPUUse and NetUse are the fractions of one instance's vCPUs and
	// baseline bandwidth the whole target (with headroom) would take;
	// above 1 it needs Count > 1.
	CPUUse, NetUse float64
	// Bottleneck is "cpu" or "network": whichever CPUUse or NetUse is
	// larger.
	Bottleneck string
	MonthlyUSD float64
}

// Plan is a recommendation.
type Plan struct {
	Target   Target
	Capacity Capacity
	Params   Params
	// VCPUsNeeded is the smallest vCPU count that carries the target
	// with headroom on one instance.
	VCPUsNeeded int
	// NetGbps is the bandwidth the target needs with headroom, per
	// direction (the proxy receives and sends each response once).
	NetGbps    float64
	Candidates []Candidate
}

// capacityAt is the requests/s n cores carry.
func (c Capacity) capacityAt(n int) float64 {
	if n <= 1 {
		return c.PerCoreRPS * float64(n)
	}
	return c.PerCoreRPS * float64(n) * c.ScalingEff
}

// Recommend evaluates every instance in cat and ranks them: those that
// carry the target alone first, then fleets of several; each group by
// monthly cost.
func Recommend(cat Catalog, t Target, c Capacity, p Params) (Plan, error) {
	if t.RPS <= 0 || c.PerCoreRPS <= 0 || c.ScalingEff <= 0 || c.ScalingEff > 1 {
		return Plan{}, ErrBadTarget
	}
	if !(p.Headroom >= 0 && p.Headroom < 1) { // NaN fails too
		return Plan{}, fmt.Errorf("%w: headroom %g is not in [0, 1)", ErrBadParams, p.Headroom)
	}
	if p.OverheadBytes < 0 {
		return Plan{}, fmt.Errorf("%w: overhead %d bytes is negative", ErrBadParams, p.OverheadBytes)
	}
	need := t.RPS * (1 + p.Headroom)
	plan := Plan{Target: t, Capacity: c, Params: p}
	plan.VCPUsNeeded = 1
	if need > c.PerCoreRPS {
		plan.VCPUsNeeded = int(math.Ceil(need / (c.PerCoreRPS * c.ScalingEff)))
	}
	plan.NetGbps = need * float64(t.RespBytes+p.OverheadBytes) * 8 / 1e9

	for _, in := range cat.Instances {
		cand := Candidate{Instance: in}
		cand.CPUUse = need / c.capacityAt(in.VCPUs)
		cand.NetUse = math.Inf(1)
		if in.BaselineGbps > 0 {
			cand.NetUse = plan.NetGbps / in.BaselineGbps
		}
		cand.Bottleneck = "cpu"
		if cand.NetUse > cand.CPUUse {
			cand.Bottleneck = "network"
		}
		cand.Count = max(1, int(math.Ceil(math.Max(cand.CPUUse, cand.NetUse)-1e-9)))
		cand.MonthlyUSD = float64(cand.Count) * in.USDPerHour * cat.HoursPerMonth
		plan.Candidates = append(plan.Candidates, cand)
	}
	slices.SortStableFunc(plan.Candidates, func(a, b Candidate) int {
		if (a.Count == 1) != (b.Count == 1) {
			if a.Count == 1 {
				return -1
			}
			return 1
		}
		if d := a.MonthlyUSD - b.MonthlyUSD; math.Abs(d) > 1e-9 {
			return int(math.Copysign(1, d))
		}
		return a.Count - b.Count
	})
	return plan, nil
}
