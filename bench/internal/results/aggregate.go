package results

import (
	"fmt"
	"math"
	"slices"
)

// Spread is the median, minimum and maximum of a figure over the rounds
// of a step.
type Spread struct {
	Median, Min, Max float64
	// N is how many values it was taken over.
	N int
}

// SpreadOf returns the spread of xs; the zero Spread for none. The
// median of an even count is the mean of the middle two.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Format prints the median and, over several values, the range:
// "74122 (71200–75010)". verb is the fmt verb of each number ("%.0f").
func (s Spread) Format(verb string) string {
	med := fmt.Sprintf(verb, s.Median)
	if s.N < 2 {
		return med
	}
	return fmt.Sprintf("%s ("+verb+"–"+verb+")", med, s.Min, s.Max)
}

// Point is one step of the ladder over all its rounds: one proxy, loop
// count, response size and concurrency.
type Point struct {
	Proxy     string
	Loops     int
	Conns     int
	RespBytes int
	// Steps are its rounds, in the order they ran.
	Steps []Step
	// Clean is whether every round is clean (Step.Clean): a step that
	// failed or had errors in any round is not a capacity.
	Clean bool
	// Spreads over the rounds that measured something (Step.OK).
	RPS, P50, P90, P99, P999, CPUPerRequestUS, ProxyCores, MemBytes, IRQCores, PacketsPerRequest Spread
	// Errors and Non2xx are summed over the rounds.
	Errors, Non2xx int64
	// Failed is the first error of a failed round, if any.
	Failed string
}

// Points groups the steps by proxy, loops, size and concurrency, in
// order of first appearance.
func (r *Run) Points() []Point {
	type key struct {
		proxy              string
		loops, size, conns int
	}
	idx := map[key]int{}
	var out []Point
	for _, s := range r.Steps {
		k := key{s.Proxy, s.Loops, s.RespBytes, s.Conns}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Point{Proxy: s.Proxy, Loops: s.Loops, Conns: s.Conns, RespBytes: s.RespBytes, Clean: true})
		}
		out[i].Steps = append(out[i].Steps, s)
	}
	for i := range out {
		out[i].summarise()
	}
	return out
}

// Point returns the point of proxy, loops, size and conns.
func (r *Run) Point(proxy string, loops, size, conns int) (Point, bool) {
	for _, p := range r.Points() {
		if p.Proxy == proxy && p.Loops == loops && p.RespBytes == size && p.Conns == conns {
			return p, true
		}
	}
	return Point{}, false
}

func (p *Point) summarise() {
	var rps, p50, p90, p99, p999, cpu, cores, mem, irq, pkts []float64
	for _, s := range p.Steps {
		p.Clean = p.Clean && s.Clean()
		if s.Err != "" && p.Failed == "" {
			p.Failed = s.Err
		}
		if !s.OK() {
			continue
		}
		l := s.Load
		p.Errors += l.Errors
		p.Non2xx += l.Non2xx
		rps, p50, p90, p99 = append(rps, l.RPS), append(p50, l.Latency.P50), append(p90, l.Latency.P90), append(p99, l.Latency.P99)
		if l.Latency.P999 > 0 {
			p999 = append(p999, l.Latency.P999)
		}
		if s.CPUPerRequestUS > 0 {
			cpu, cores = append(cpu, s.CPUPerRequestUS), append(cores, s.ProxyCores)
		}
		if s.ProxyMemBytes > 0 {
			mem = append(mem, float64(s.ProxyMemBytes))
		}
		if s.IRQCores > 0 {
			irq = append(irq, s.IRQCores)
		}
		if s.PacketsPerRequest > 0 {
			pkts = append(pkts, s.PacketsPerRequest)
		}
	}
	p.RPS, p.P50, p.P90, p.P99, p.P999 = SpreadOf(rps), SpreadOf(p50), SpreadOf(p90), SpreadOf(p99), SpreadOf(p999)
	p.CPUPerRequestUS, p.ProxyCores, p.MemBytes = SpreadOf(cpu), SpreadOf(cores), SpreadOf(mem)
	p.IRQCores, p.PacketsPerRequest = SpreadOf(irq), SpreadOf(pkts)
	if len(rps) == 0 {
		p.Clean = false
	}
}

// RoundRatios divides f of a by f of b round by round — a's round k by
// b's round k, measured minutes apart under the same conditions — over
// the rounds where both are clean and f is positive and finite.
func RoundRatios(a, b Point, f func(Step) float64) Spread {
	var rs []float64
	for _, sa := range a.Steps {
		for _, sb := range b.Steps {
			if sa.Round != sb.Round || !sa.Clean() || !sb.Clean() {
				continue
			}
			x, y := f(sa), f(sb)
			if r := x / y; x > 0 && y > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) {
				rs = append(rs, r)
			}
		}
	}
	return SpreadOf(rs)
}
