package results

import (
	"slices"

	"github.com/pilb-proxy/pilb/bench/internal/load"
)

// KindHostile is the Run.Kind of pilb-bench hostile, whose measurements
// are Figures rather than Steps.
const KindHostile = "hostile"

// The scenarios of pilb-bench hostile (issue 7, "Measured targets"), in
// the order they run and are reported.
const (
	ScenarioConns     = "conns8000"     // 8,000 keep-alive clients under wrk
	ScenarioSlowloris = "slowloris"     // throughput kept beside 1,000 slowloris connections
	ScenarioIdle      = "idle8000"      // memory per idle keep-alive connection
	ScenarioTransfer  = "slowtransfer"  // memory during a slow download and a slow upload
	ScenarioDownloads = "downloads1024" // 1,024 concurrent 1 MiB downloads
	ScenarioCPU       = "cpu64"         // CPU per request at 64 connections
	VariantDownload   = "download"      // slowtransfer: the client reads at the capped rate
	VariantUpload     = "upload"        // slowtransfer: the backend reads at the capped rate
)

// Scenarios lists every scenario in running order.
var Scenarios = []string{ScenarioConns, ScenarioSlowloris, ScenarioIdle, ScenarioTransfer, ScenarioDownloads, ScenarioCPU}

// The names of Figure.Values. Memory is in MB (10⁶ bytes) or KiB per
// connection, as issue 7 states its targets.
const (
	ValRPS          = "rps"            // requests/s
	ValP50          = "p50_ms"         // latency percentiles, ms
	ValP90          = "p90_ms"         //
	ValP99          = "p99_ms"         //
	ValMax          = "max_ms"         //
	ValTimeouts     = "timeouts"       // wrk's timeouts: responses later than --timeout
	ValSocketErrors = "socket_errors"  // wrk's connect, read and write errors
	ValNon2xx       = "non_2xx"        // responses outside 2xx/3xx
	ValSlow         = "slow"           // responses slower than the scenario's threshold (2 s)
	ValPeakRSS      = "peak_rss_mb"    // the proxy's largest RSS during the load, MB
	ValPeakPSS      = "peak_pss_mb"    // the same as PSS, MB; absent without smaps_rollup
	ValCPUPerReq    = "cpu_us_per_req" // the proxy's CPU time per completed request, µs
	ValCores        = "cores"          // the proxy's CPU time over the wall time
	ValQuietRPS     = "quiet_rps"      // slowloris: requests/s without the slowloris connections
	ValQuietP99     = "quiet_p99_ms"   // slowloris: p99 without them
	ValKept         = "kept"           // slowloris: rps ÷ quiet_rps of the same proxy and round
	ValSlowOpen     = "slow_open"      // slowloris: its connections open when wrk finished
	ValSlowDials    = "slow_dials"     // slowloris: connections it opened, reconnections included
	ValSlow408      = "slow_408"       // slowloris: 408 answers it received
	ValOpened       = "opened"         // idle8000: connections that got their response
	ValStillOpen    = "still_open"     // idle8000: of those, still open after the idle pause
	ValFailed       = "failed"         // idle8000: connections that got no response or not a 200
	ValRSSBefore    = "rss_before_mb"  // idle8000, slowtransfer: RSS before, MB
	ValRSSAfter     = "rss_after_mb"   // idle8000: RSS with the connections open, MB
	ValRSSPerConn   = "rss_per_conn_kib"
	ValPSSPerConn   = "pss_per_conn_kib"
	ValRSSPerBusy   = "rss_per_conn_busy_kib" // idle8000: RSS per connection again, after wrk -c64 with a new connection per request ran beside the idle ones
	ValGrowthPeak   = "rss_growth_peak_mb"    // slowtransfer: largest RSS during the transfer less RSS before it (after the warm-up), MB
	ValGrowthCold   = "rss_growth_cold_mb"    // slowtransfer: largest RSS during the transfer less RSS of the fresh instance (before the warm-up), MB
	ValGrowthEnd    = "rss_growth_end_mb"     // slowtransfer: RSS right after it less RSS before, MB
	ValPSSGrowth    = "pss_growth_peak_mb"    // slowtransfer: the same as PSS, MB
	ValRate         = "rate_mib_s"            // slowtransfer: bytes moved over the transfer's time, MiB/s
	ValSeconds      = "seconds"               // slowtransfer: the transfer's time
)

// Figure is one measurement of a hostile scenario: one proxy (one
// instance of it), one variant, one round, with its values by name.
type Figure struct {
	Scenario string `json:"scenario"`
	// Variant tells apart the measurements of one scenario that are
	// reported separately (VariantDownload, VariantUpload); "" for none.
	Variant string `json:"variant,omitempty"`
	Proxy   string `json:"proxy"`
	Round   int    `json:"round"`
	// Values holds the Val* figures the scenario measures.
	Values map[string]float64 `json:"values"`
	// Load is wrk's result where the figure comes from one wrk run (for
	// slowloris, the run beside the slowloris connections).
	Load *load.Result `json:"load,omitempty"`
	// Err says why the figure is missing or incomplete; its Values
	// are then left out of the medians.
	Err string `json:"error,omitempty"`
}

// OK reports whether the figure measured what it set out to.
func (f Figure) OK() bool { return f.Err == "" && len(f.Values) > 0 }

// FiguresOf returns the figures of a scenario and variant, in the order
// they ran.
func (r *Run) FiguresOf(scenario, variant string) []Figure {
	var out []Figure
	for _, f := range r.Figures {
		if f.Scenario == scenario && f.Variant == variant {
			out = append(out, f)
		}
	}
	return out
}

// FigureProxies returns the proxies of figs in order of first appearance.
func FigureProxies(figs []Figure) []string {
	var out []string
	for _, f := range figs {
		if !slices.Contains(out, f.Proxy) {
			out = append(out, f.Proxy)
		}
	}
	return out
}

// ValueSpread is the spread of value key over the OK figures of proxy
// in figs that have it.
func ValueSpread(figs []Figure, proxy, key string) Spread {
	var xs []float64
	for _, f := range figs {
		if v, ok := f.Values[key]; ok && f.Proxy == proxy && f.OK() {
			xs = append(xs, v)
		}
	}
	return SpreadOf(xs)
}

// ValueRatios divides value key of proxy a by that of proxy b round by
// round, over the rounds where both are OK and positive.
func ValueRatios(figs []Figure, a, b, key string) Spread {
	var rs []float64
	for _, fa := range figs {
		if fa.Proxy != a || !fa.OK() || fa.Values[key] <= 0 {
			continue
		}
		for _, fb := range figs {
			if fb.Proxy == b && fb.Round == fa.Round && fb.OK() && fb.Values[key] > 0 {
				rs = append(rs, fa.Values[key]/fb.Values[key])
			}
		}
	}
	return SpreadOf(rs)
}

// ValueDifferences subtracts value key of proxy b from that of proxy a
// round by round, over the rounds where both are OK and have it.
func ValueDifferences(figs []Figure, a, b, key string) Spread {
	var ds []float64
	for _, fa := range figs {
		va, ok := fa.Values[key]
		if fa.Proxy != a || !fa.OK() || !ok {
			continue
		}
		for _, fb := range figs {
			if vb, ok := fb.Values[key]; ok && fb.Proxy == b && fb.Round == fa.Round && fb.OK() {
				ds = append(ds, va-vb)
			}
		}
	}
	return SpreadOf(ds)
}
