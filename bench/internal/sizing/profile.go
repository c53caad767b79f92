package sizing

import (
	"fmt"
	"math"
	"slices"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// Knee is the highest-throughput step of one loop count at one response
// size that met the p99 target in every round without errors: the
// measured knee, beyond which the model does not go.
type Knee struct {
	RespBytes, Loops, Conns int
	// RPS is the median requests/s over the rounds, with its range.
	RPS results.Spread
	// P99MS is the p99 the knee was judged by: the worst of the rounds,
	// or their median (Profile.MedianP99).
	P99MS float64
	// MedianP99 is whether P99MS is the rounds' median.
	MedianP99 bool
	// Cores is the median of the proxy's busy cores; 0 when not measured.
	Cores float64
	// IRQCores is the median interrupt and softirq CPU of the proxy host
	// (a real NIC's work); 0 when not measured (loopback).
	IRQCores float64
	// PacketsPerRequest is the proxy host's packets in and out per
	// request; 0 when not measured.
	PacketsPerRequest float64
}

// Util is how busy the proxy's own cores were at the knee; 0 when not
// measured.
func (k Knee) Util() float64 { return k.Cores / float64(k.Loops) }

// Cost is the CPU seconds a request takes, interrupts included when
// measured; 0 when CPU was not measured.
func (k Knee) Cost() float64 {
	if k.Cores <= 0 || k.RPS.Median <= 0 {
		return 0
	}
	return (k.Cores + k.IRQCores) / k.RPS.Median
}

func (k Knee) String() string {
	judged := fmt.Sprintf("p99 ≤ %.2f ms in all %d round(s)", k.P99MS, k.RPS.N)
	if k.MedianP99 {
		judged = fmt.Sprintf("median p99 %.2f ms over %d round(s) (-p99-round median)", k.P99MS, k.RPS.N)
	}
	s := fmt.Sprintf("%d-byte responses, %d loop(s), %d conns: %s req/s, %s", k.RespBytes, k.Loops, k.Conns, k.RPS.Format("%.0f"), judged)
	if k.Cores > 0 {
		s += fmt.Sprintf(", the proxy's cores %.0f%% busy (%.1f µs CPU per request", 100*k.Util(), 1e6*k.Cores/k.RPS.Median)
		if k.IRQCores > 0 {
			s += fmt.Sprintf(" + %.1f µs of NIC interrupts", 1e6*k.IRQCores/k.RPS.Median)
		}
		s += ")"
	}
	return s
}

// Profile is what one results folder says about one proxy: its knees
// and the host it was measured on.
type Profile struct {
	Proxy string
	// Dir is the results folder.
	Dir  string
	Kind string
	// Host is the machine the proxy ran on.
	Host procstat.Machine
	// Knees maps loops to response size to knee.
	Knees map[int]map[int]Knee
	// Sizes are the response sizes measured at one loop, ascending.
	Sizes []int
	// P99MS is the target the knees were taken at.
	P99MS float64
	// MedianP99 judges a step by the median p99 of its rounds instead of
	// the worst.
	MedianP99 bool
}

// FromRun takes the knees of proxy from run at the p99 target: steps
// whose worst round met it, or with medianP99 steps whose median round
// did (on a shared machine one disturbed round is enough to miss).
func FromRun(run *results.Run, dir, proxy string, p99MS float64, medianP99 bool) (Profile, error) {
	p := Profile{Proxy: proxy, Dir: dir, Kind: run.Kind, Host: run.ProxyHost(), Knees: map[int]map[int]Knee{}, P99MS: p99MS, MedianP99: medianP99}
	for _, pt := range run.Points() {
		if pt.Proxy != proxy {
			continue
		}
		if pt.Loops == 1 && !slices.Contains(p.Sizes, pt.RespBytes) {
			p.Sizes = append(p.Sizes, pt.RespBytes)
		}
		p99 := pt.P99.Max
		if medianP99 {
			p99 = pt.P99.Median
		}
		if !pt.Clean || p99 > p99MS {
			continue
		}
		k := Knee{RespBytes: pt.RespBytes, Loops: pt.Loops, Conns: pt.Conns, RPS: pt.RPS, P99MS: p99, MedianP99: medianP99,
			Cores: pt.ProxyCores.Median, IRQCores: pt.IRQCores.Median, PacketsPerRequest: pt.PacketsPerRequest.Median}
		if p.Knees[pt.Loops] == nil {
			p.Knees[pt.Loops] = map[int]Knee{}
		}
		if old, ok := p.Knees[pt.Loops][pt.RespBytes]; !ok || k.RPS.Median > old.RPS.Median {
			p.Knees[pt.Loops][pt.RespBytes] = k
		}
	}
	slices.Sort(p.Sizes)
	if len(p.Sizes) == 0 {
		return p, fmt.Errorf("sizing: no one-loop steps for proxy %q in %s", proxy, dir)
	}
	return p, nil
}

// CoreCapacity is what one core of the measured CPU carries at the
// target response size, as planned.
type CoreCapacity struct {
	// RPS is the requests/s planned per core.
	RPS float64
	// Cost is the CPU seconds per request at the target size (interrupts
	// included when measured); 0 when CPU was not measured.
	Cost float64
	// Util is the share of each core the plan uses: -target-util, or
	// less when the knee was measured less busy than that.
	Util float64
	// PacketsPerRequest is the measured packets per request at the
	// target size, interpolated; 0 when not measured.
	PacketsPerRequest float64
	// IRQMeasured is whether Cost includes measured NIC interrupt CPU.
	IRQMeasured bool
	// Knees are the knees the answer rests on.
	Knees []Knee
	// Steps say, line by line, how RPS was reached.
	Steps []string
}

// PerCore plans one core's requests/s at size bytes: the one-loop knees
// at the measured sizes around size, the cost per request interpolated
// linearly in size between them, and the core planned at most
// targetUtil busy, or at the knees' own utilisation when that is lower:
// nothing above a knee was measured. A size outside the measured ones is
// ErrExtrapolate unless extrapolate: below them the smallest size's cost
// is used (a smaller response costs no more), above them the cost line
// through the two largest sizes is extended.
func (p Profile) PerCore(size int, targetUtil float64, extrapolate bool) (CoreCapacity, error) {
	knees := p.Knees[1]
	knee := func(s int) (Knee, error) {
		k, ok := knees[s]
		if !ok {
			which := "in every round"
			if p.MedianP99 {
				which = "in its median round"
			}
			return k, fmt.Errorf("%w: %s at one loop with %d-byte responses: no step had p99 ≤ %g ms %s without errors "+
				"(the report shows each step's p99 with its range)", ErrNoCapacity, p.Proxy, s, p.P99MS, which)
		}
		return k, nil
	}
	lo, hi := p.Sizes[0], p.Sizes[len(p.Sizes)-1]
	var c CoreCapacity
	var a, b Knee // the two knees the cost line goes through
	var err error
	switch {
	case slices.Contains(p.Sizes, size):
		if a, err = knee(size); err != nil {
			return c, err
		}
		b = a
		c.Steps = append(c.Steps, fmt.Sprintf("knee at the asked size: %s", a))
	case size < lo || size > hi:
		if !extrapolate {
			return c, fmt.Errorf("%w: %d bytes, measured %v: measure that size (-sizes), or pass -extrapolate", ErrExtrapolate, size, p.Sizes)
		}
		if size < lo {
			if a, err = knee(lo); err != nil {
				return c, err
			}
			b = a
			c.Steps = append(c.Steps, fmt.Sprintf("EXTRAPOLATED (-extrapolate): %d bytes is below every measured size; "+
				"the cost of the smallest, %d bytes, is used (a smaller response costs no more): %s", size, lo, a))
			break
		}
		if len(p.Sizes) < 2 {
			return c, fmt.Errorf("%w: %d bytes is above the one measured size (%d): two sizes are needed to extend the cost line", ErrExtrapolate, size, hi)
		}
		if a, err = knee(p.Sizes[len(p.Sizes)-2]); err != nil {
			return c, err
		}
		if b, err = knee(hi); err != nil {
			return c, err
		}
		c.Steps = append(c.Steps, fmt.Sprintf("EXTRAPOLATED (-extrapolate): %d bytes is above every measured size; the cost line "+
			"through the two largest is extended:\n    %s\n    %s", size, a, b))
	default:
		i, _ := slices.BinarySearch(p.Sizes, size)
		if a, err = knee(p.Sizes[i-1]); err != nil {
			return c, err
		}
		if b, err = knee(p.Sizes[i]); err != nil {
			return c, err
		}
		c.Steps = append(c.Steps, fmt.Sprintf("%d bytes lies between two measured sizes; cost per request interpolated linearly in size between:\n    %s\n    %s",
			size, a, b))
	}
	c.Knees = []Knee{a}
	if b != a {
		c.Knees = append(c.Knees, b)
	}
	// at is the value at size of the line through a's and b's values,
	// never below zero (a cost cannot fall with size).
	at := func(va, vb float64) float64 {
		if a.RespBytes == b.RespBytes || size < a.RespBytes {
			return va
		}
		return math.Max(va+(vb-va)*float64(size-a.RespBytes)/float64(b.RespBytes-a.RespBytes), math.Min(va, vb))
	}
	if a.PacketsPerRequest > 0 && b.PacketsPerRequest > 0 {
		c.PacketsPerRequest = at(a.PacketsPerRequest, b.PacketsPerRequest)
	}
	if a.Cost() > 0 && b.Cost() > 0 {
		c.Cost = at(a.Cost(), b.Cost())
		c.IRQMeasured = a.IRQCores > 0 && b.IRQCores > 0
		c.Util = math.Min(targetUtil, math.Min(a.Util(), b.Util()))
		c.RPS = c.Util / c.Cost
		line := fmt.Sprintf("cost %.1f µs of CPU per request at %d bytes; planned at %.0f%% of each core", 1e6*c.Cost, size, 100*c.Util)
		if c.Util < targetUtil {
			line += fmt.Sprintf(" — the knee's own utilisation, below -target-util %.0f%%: nothing busier met the p99 target when measured "+
				"(the load generator may have saturated first; remote measures further)", 100*targetUtil)
		} else {
			line += " (-target-util)"
		}
		c.Steps = append(c.Steps, line+fmt.Sprintf(" → %.0f req/s per core", c.RPS))
		return c, nil
	}
	// No CPU figures (remote without an agent): the knee's rate is taken
	// as a whole core's, the most it can be, and planned at targetUtil.
	t := at(1/a.RPS.Median, 1/b.RPS.Median)
	c.Util = targetUtil
	c.RPS = targetUtil / t
	c.Steps = append(c.Steps, fmt.Sprintf("no CPU figures (no agent): the knee is taken as a fully busy core and planned at %.0f%% of it → %.0f req/s per core",
		100*targetUtil, c.RPS))
	return c, nil
}

// Scaling is the efficiency of N loops against one, measured.
type Scaling struct {
	// Eff is per-core throughput at N loops over one loop, in (0, 1].
	Eff float64
	// MaxLoops is the largest loop count measured; 0 when assumed.
	MaxLoops int
	Line     string
}

// Scaling measures the efficiency from the knees at one loop and at the
// largest loop count N at the given sizes (the lowest of them, to be
// safe): CPU per request at 1 ÷ at N when CPU was measured — it grows as
// scaling loses efficiency, whatever capped the throughput — else
// requests/s at N ÷ (N × at 1). Without a second loop count def is
// assumed.
func (p Profile) Scaling(sizes []int, def float64) Scaling {
	maxLoops := 1
	for l := range p.Knees {
		maxLoops = max(maxLoops, l)
	}
	best := Scaling{Eff: def, Line: fmt.Sprintf("scaling efficiency %.2f ASSUMED (-scaling): the results have one loop count; "+
		"measure 1 and N loops (local -loops 1,2, or remote 1..N)", def)}
	if maxLoops == 1 {
		return best
	}
	found := false
	for _, s := range sizes {
		one, ok1 := p.Knees[1][s]
		n, okN := p.Knees[maxLoops][s]
		if !ok1 || !okN {
			continue
		}
		var eff float64
		var how string
		if one.Cost() > 0 && n.Cost() > 0 {
			eff = math.Min(one.Cost()/n.Cost(), 1)
			how = fmt.Sprintf("CPU per request %.1f µs at 1 loop, %.1f µs at %d", 1e6*one.Cost(), 1e6*n.Cost(), maxLoops)
		} else {
			eff = math.Min(n.RPS.Median/(float64(maxLoops)*one.RPS.Median), 1)
			how = fmt.Sprintf("req/s %.0f at 1 loop, %.0f at %d (no CPU figures)", one.RPS.Median, n.RPS.Median, maxLoops)
		}
		if !found || eff < best.Eff {
			best = Scaling{Eff: eff, MaxLoops: maxLoops, Line: fmt.Sprintf("scaling efficiency %.2f measured at %d-byte responses (%s); "+
				"beyond %d loops the same efficiency is assumed", eff, s, how, maxLoops)}
			found = true
		}
	}
	if !found {
		best.Line = fmt.Sprintf("scaling efficiency %.2f ASSUMED (-scaling): no size has knees at both 1 and %d loops", def, maxLoops)
	}
	return best
}
