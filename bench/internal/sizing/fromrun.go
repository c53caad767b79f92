package sizing

import (
	"fmt"
	"slices"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// saturated is the share of a core above which a one-loop step is taken
// as CPU-bound; below it the load generator limited the step, and the
// core's capacity is extrapolated from CPU per request.
const saturated = 0.9

// CapacityFromRun derives a proxy's capacity from measured steps: the
// best requests/s of one loop that met the p99 goal without errors, at the
// smallest measured response size not below the target's (the largest
// size when all are below). Scaling efficiency comes from the run's
// largest loop count N when it has more than one: CPU per request at one
// loop over that at N when both were measured, else requests/s at N over
// N × requests/s at one; defaultEff when there is no such step.
func CapacityFromRun(run *results.Run, proxy string, t Target, defaultEff float64) (Capacity, error) {
	sizes := results.Distinct(run.Steps, func(s results.Step) (int, bool) { return s.RespBytes, s.Proxy == proxy })
	if len(sizes) == 0 {
		return Capacity{}, fmt.Errorf("sizing: no steps for proxy %q in the results", proxy)
	}
	slices.Sort(sizes)
	size := sizes[len(sizes)-1]
	for _, s := range sizes {
		if s >= t.RespBytes {
			size = s
			break
		}
	}

	best, ok := bestMeeting(run, proxy, 1, size, t.P99MS)
	if !ok {
		return Capacity{}, fmt.Errorf("%w (%s, 1 loop, %d-byte responses, p99 ≤ %g ms)", ErrNoCapacity, proxy, size, t.P99MS)
	}
	c := Capacity{PerCoreRPS: best.Load.RPS, ScalingEff: defaultEff}
	c.Source = fmt.Sprintf("%s 1 loop, %d-byte responses, %d conns: %.0f req/s at p99 %.2f ms",
		proxy, size, best.Conns, best.Load.RPS, best.Load.Latency.P99)
	if best.ProxyCores > 0 && best.ProxyCores < saturated {
		c.PerCoreRPS = best.Load.RPS / best.ProxyCores
		c.Source += fmt.Sprintf(" using %.0f%% of a core, extrapolated to %.0f req/s per core", 100*best.ProxyCores, c.PerCoreRPS)
	}

	maxLoops := 1
	for _, s := range run.Steps {
		if s.Proxy == proxy && s.RespBytes == size {
			maxLoops = max(maxLoops, s.Loops)
		}
	}
	if n, ok := bestMeeting(run, proxy, maxLoops, size, t.P99MS); ok && maxLoops > 1 {
		if best.CPUPerRequestUS > 0 && n.CPUPerRequestUS > 0 {
			// CPU per request grows as scaling loses efficiency, whatever
			// limited the step's throughput; requests/s alone would read a
			// load generator that saturated first as ≈ 1/N.
			c.ScalingEff = min(best.CPUPerRequestUS/n.CPUPerRequestUS, 1)
			c.Source += fmt.Sprintf("; scaling efficiency %.2f from CPU per request at 1 and %d loops (%.1f and %.1f µs)",
				c.ScalingEff, maxLoops, best.CPUPerRequestUS, n.CPUPerRequestUS)
		} else {
			c.ScalingEff = min(n.Load.RPS/(float64(maxLoops)*best.Load.RPS), 1)
			c.Source += fmt.Sprintf("; scaling efficiency %.2f from req/s at %d loops (no CPU figures)", c.ScalingEff, maxLoops)
		}
	} else {
		c.Source += fmt.Sprintf("; scaling efficiency %.2f assumed", c.ScalingEff)
	}
	return c, nil
}

func bestMeeting(run *results.Run, proxy string, loops, size int, p99 float64) (results.Step, bool) {
	var best results.Step
	found := false
	for _, s := range run.Steps {
		if s.Proxy != proxy || s.Loops != loops || s.RespBytes != size || !s.Clean() || s.Load.Latency.P99 > p99 {
			continue
		}
		if !found || s.Load.RPS > best.Load.RPS {
			best, found = s, true
		}
	}
	return best, found
}
