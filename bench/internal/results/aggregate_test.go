package results

import (
	"math"
	"testing"

	"github.com/pilb-proxy/pilb/bench/internal/load"
)

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want Spread
		text string
	}{
		{nil, Spread{}, "0"},
		{[]float64{5}, Spread{5, 5, 5, 1}, "5"},
		{[]float64{9, 1, 5}, Spread{5, 1, 9, 3}, "5 (1–9)"},
		{[]float64{4, 1, 2, 3}, Spread{2.5, 1, 4, 4}, "2 (1–4)"},
	} {
		if got := SpreadOf(tc.xs); got != tc.want || got.Format("%.0f") != tc.text {
			t.Errorf("SpreadOf(%v) = %+v %q, want %+v %q", tc.xs, got, got.Format("%.0f"), tc.want, tc.text)
		}
	}
}

// Rounds of a step make one point with medians and ranges; a round with
// errors makes the point unclean; ratios pair rounds.
func TestPointsAndRoundRatios(t *testing.T) {
	step := func(px string, round int, rps, cpu float64, errs int64) Step {
		return Step{Proxy: px, Loops: 1, Conns: 16, Round: round, CPUPerRequestUS: cpu, ProxyCores: 0.9,
			Load: load.Result{Requests: 1000, RPS: rps, Errors: errs, Latency: load.Latency{P99: 2}}}
	}
	run := &Run{Steps: []Step{
		step("pilb", 1, 100, 10, 0), step("nginx", 1, 80, 12, 0),
		step("nginx", 2, 60, 13, 0), step("pilb", 2, 90, 11, 0),
		step("pilb", 3, 120, 9, 0), step("nginx", 3, 100, 12, 3),
	}}
	pts := run.Points()
	if len(pts) != 2 || pts[0].Proxy != "pilb" || len(pts[0].Steps) != 3 {
		t.Fatalf("Points() = %+v", pts)
	}
	pilb, nginx := pts[0], pts[1]
	if pilb.RPS != (Spread{100, 90, 120, 3}) || !pilb.Clean {
		t.Errorf("pilb RPS %+v clean %v", pilb.RPS, pilb.Clean)
	}
	if nginx.Clean || nginx.Errors != 3 {
		t.Errorf("nginx clean %v errors %d; want unclean with 3", nginx.Clean, nginx.Errors)
	}
	// Round 3 of nginx had errors: ratios from rounds 1 and 2 only,
	// 100/80 = 1.25 and 90/60 = 1.5, not from the medians (100/80).
	r := RoundRatios(pilb, nginx, func(s Step) float64 { return s.Load.RPS })
	if r.N != 2 || math.Abs(r.Median-1.375) > 1e-9 || r.Min != 1.25 || r.Max != 1.5 {
		t.Errorf("RoundRatios = %+v", r)
	}
	if p, ok := run.Point("nginx", 1, 0, 16); !ok || p.Proxy != "nginx" {
		t.Errorf("Point = %+v, %v", p, ok)
	}
}

// Hostile figures: medians over the OK rounds, ratios from the same round
// only, a failed round left out of both.
func TestFigureSpreadsAndRatios(t *testing.T) {
	fig := func(proxy string, round int, rps float64, err string) Figure {
		return Figure{Scenario: ScenarioConns, Proxy: proxy, Round: round, Values: map[string]float64{ValRPS: rps}, Err: err}
	}
	run := &Run{Kind: KindHostile, Figures: []Figure{
		fig("pilb", 1, 100, ""), fig("haproxy", 1, 50, ""),
		fig("haproxy", 2, 40, ""), fig("pilb", 2, 120, ""),
		fig("pilb", 3, 999, "proxy exited"), fig("haproxy", 3, 60, ""),
		{Scenario: ScenarioIdle, Proxy: "pilb", Round: 1, Values: map[string]float64{ValRPS: 1}},
	}}
	figs := run.FiguresOf(ScenarioConns, "")
	if len(figs) != 6 {
		t.Fatalf("FiguresOf: %d figures", len(figs))
	}
	if got := FigureProxies(figs); len(got) != 2 || got[0] != "pilb" || got[1] != "haproxy" {
		t.Errorf("FigureProxies = %v", got)
	}
	if s := ValueSpread(figs, "pilb", ValRPS); s != (Spread{Median: 110, Min: 100, Max: 120, N: 2}) {
		t.Errorf("pilb spread %+v", s)
	}
	if s := ValueRatios(figs, "pilb", "haproxy", ValRPS); s != (Spread{Median: 2.5, Min: 2, Max: 3, N: 2}) {
		t.Errorf("ratios %+v", s)
	}
}
