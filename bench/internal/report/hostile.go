package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// column is one figure of a hostile scenario's table.
type column struct {
	key, head string
	// verb formats the figure ("%.1f").
	verb string
	// cmp is how pilb's figure is set against another proxy's, round by
	// round, if at all.
	cmp comparison
}

// comparison is how a column compares pilb with another proxy.
type comparison uint8

const (
	noCompare comparison = iota
	// byRatio divides pilb's figure by the other's.
	byRatio
	// byDifference subtracts the other's from pilb's: for figures near
	// zero (memory growth of 0.004 MB), whose ratios are noise.
	byDifference
)

// hostileScenario says how a scenario of pilb-bench hostile is reported.
type hostileScenario struct {
	name, title string
	// what says what was run, from the run's flags.
	what func(flags map[string]string) string
	// target is issue 7's target and the figures it was measured at.
	target string
	// variants are reported one after the other ("" for none).
	variants []string
	cols     []column
	// headline are the keys the summary shows.
	headline []string
	// meets judges one figure against the target, given the figures of
	// the other proxies in the same round (by proxy); nil when the target
	// cannot be judged within one run.
	meets func(f results.Figure, peers map[string]results.Figure) (bool, string)
}

// Columns shared by the wrk-driven scenarios.
var (
	colRPS      = column{results.ValRPS, "req/s", "%.0f", byRatio}
	colP50      = column{results.ValP50, "p50 ms", "%.1f", byRatio}
	colP90      = column{results.ValP90, "p90 ms", "%.1f", byRatio}
	colP99      = column{results.ValP99, "p99 ms", "%.1f", byRatio}
	colMax      = column{results.ValMax, "max ms", "%.0f", noCompare}
	colTimeouts = column{results.ValTimeouts, "timeouts", "%.0f", noCompare}
	colSockErrs = column{results.ValSocketErrors, "socket errors", "%.0f", noCompare}
	colNon2xx   = column{results.ValNon2xx, "non-2xx", "%.0f", noCompare}
	colPeakRSS  = column{results.ValPeakRSS, "peak RSS MB", "%.1f", byRatio}
	colPeakPSS  = column{results.ValPeakPSS, "peak PSS MB", "%.1f", noCompare}
	colCPU      = column{results.ValCPUPerReq, "CPU µs/req", "%.1f", byRatio}
	colCores    = column{results.ValCores, "cores", "%.2f", noCompare}
)

var hostileScenarios = []hostileScenario{
	{
		name: results.ScenarioConns, title: "keep-alive clients by the thousand",
		what: func(f map[string]string) string {
			return fmt.Sprintf("`wrk -t%s -c%s --timeout 5s` for %s on 12-byte responses; peak memory polled every 100 ms and read from VmHWM",
				f["threads"], f["clients"], f["duration"])
		},
		target:   "0 timeouts, p99 ≤ HAProxy's, peak RSS ≤ 50 MB (issue 7 measured pilb 20 timeouts and 96 MB, HAProxy 0 and 87 MB)",
		cols:     []column{colRPS, colP99, colTimeouts, colSockErrs, colNon2xx, colPeakRSS, colPeakPSS, colCPU, colCores},
		headline: []string{results.ValTimeouts, results.ValP99, results.ValPeakRSS},
		meets: func(f results.Figure, peers map[string]results.Figure) (bool, string) {
			var miss []string
			if t := f.Values[results.ValTimeouts]; t > 0 {
				miss = append(miss, fmt.Sprintf("%.0f timeouts", t))
			}
			if h, ok := peers["haproxy"]; ok && h.OK() && f.Values[results.ValP99] > h.Values[results.ValP99] {
				miss = append(miss, fmt.Sprintf("p99 %.1f ms > HAProxy's %.1f", f.Values[results.ValP99], h.Values[results.ValP99]))
			}
			if m := f.Values[results.ValPeakRSS]; m > 50 {
				miss = append(miss, fmt.Sprintf("peak RSS %.1f MB", m))
			}
			return len(miss) == 0, strings.Join(miss, ", ")
		},
	},
	{
		name: results.ScenarioSlowloris, title: "throughput beside slowloris connections",
		what: func(f map[string]string) string {
			return fmt.Sprintf("`wrk -t1 -c64` for %s with and without %s connections that each send a request head one byte every %s "+
				"and reconnect when closed (header timeout %s in every proxy); the order of the two runs alternates by round; "+
				"kept = req/s with ÷ req/s without, same proxy and round", f["duration"], f["slowloris"], f["slowloris-interval"], f["header-timeout"])
		},
		target: "≥ 95% of the throughput without them, in repeated runs (issue 7: pilb 89–123% on a quiet machine, 61–67% with other load " +
			"where HAProxy kept 93%; HAProxy 85–93%)",
		cols: []column{{results.ValKept, "kept", "%.2f", byRatio}, {results.ValRPS, "req/s with", "%.0f", byRatio},
			{results.ValQuietRPS, "req/s without", "%.0f", byRatio}, {results.ValP99, "p99 ms with", "%.1f", byRatio},
			{results.ValQuietP99, "p99 ms without", "%.1f", noCompare}, {results.ValSlowOpen, "slowloris open", "%.0f", noCompare},
			{results.ValSlowDials, "slowloris dials", "%.0f", noCompare}, {results.ValSlow408, "408s", "%.0f", noCompare},
			colSockErrs, {results.ValCPUPerReq, "CPU µs/req with", "%.1f", byRatio}},
		headline: []string{results.ValKept},
		meets: func(f results.Figure, _ map[string]results.Figure) (bool, string) {
			k := f.Values[results.ValKept]
			return k >= 0.95, fmt.Sprintf("kept %.0f%%", 100*k)
		},
	},
	{
		name: results.ScenarioIdle, title: "memory per idle keep-alive connection",
		what: func(f map[string]string) string {
			return fmt.Sprintf("%s keep-alive connections, each one GET of 12 bytes, then idle 2 s; "+
				"per connection = (memory after − memory before) ÷ connections that got their response; "+
				"\"churn beside\": the same after wrk -c64, a new connection per request, then ran for the run's duration beside the idle connections, and 2 s more", f["clients"])
		},
		target: "≤ 0.5 KiB RSS per connection (issue 7: pilb 0.9, HAProxy 1.2, nginx 0.56)",
		cols: []column{{results.ValRSSPerConn, "RSS KiB/conn", "%.2f", byRatio}, {results.ValPSSPerConn, "PSS KiB/conn", "%.2f", byRatio},
			{results.ValRSSPerBusy, "RSS KiB/conn, churn beside", "%.2f", byRatio},
			{results.ValRSSBefore, "RSS before MB", "%.1f", noCompare}, {results.ValRSSAfter, "RSS after MB", "%.1f", noCompare},
			{results.ValOpened, "opened", "%.0f", noCompare}, {results.ValStillOpen, "still open", "%.0f", noCompare},
			{results.ValFailed, "failed", "%.0f", noCompare}},
		headline: []string{results.ValRSSPerConn},
		meets: func(f results.Figure, _ map[string]results.Figure) (bool, string) {
			v := f.Values[results.ValRSSPerConn]
			return v <= 0.5, fmt.Sprintf("%.2f KiB per connection", v)
		},
	},
	{
		name: results.ScenarioTransfer, title: "memory during a slow download and a slow upload",
		what: func(f map[string]string) string {
			return fmt.Sprintf("download: the client reads a %s body at %s/s; upload: a %s body to a backend that reads %s/s; "+
				"every proxy at once, each transfer through its own instance; growth = peak RSS during the transfer − RSS before it, "+
				"after a warm-up (one transfer of the kind at full speed, one of 8 s at the rate, past the kernel's loopback buffers); cold = the same − RSS of the fresh instance, before the warm-up",
				f["transfer-size"], f["transfer-rate"], f["transfer-size"], f["transfer-rate"])
		},
		target:   "RSS growth ≤ 1 MB (issue 7: pilb 3.8 MB, HAProxy 0.1 MB)",
		variants: []string{results.VariantDownload, results.VariantUpload},
		cols: []column{{results.ValGrowthPeak, "RSS growth MB", "%.2f", byDifference}, {results.ValGrowthCold, "cold growth MB", "%.2f", byDifference},
			{results.ValGrowthEnd, "growth at end MB", "%.2f", byDifference},
			{results.ValPSSGrowth, "PSS growth MB", "%.2f", byDifference}, {results.ValRSSBefore, "RSS before MB", "%.1f", noCompare},
			{results.ValRate, "MiB/s", "%.2f", noCompare}, {results.ValSeconds, "s", "%.0f", noCompare}},
		headline: []string{results.ValGrowthPeak},
		meets: func(f results.Figure, _ map[string]results.Figure) (bool, string) {
			v := f.Values[results.ValGrowthPeak]
			return v <= 1, fmt.Sprintf("%.2f MB", v)
		},
	},
	{
		name: results.ScenarioDownloads, title: "a thousand concurrent 1 MiB downloads",
		what: func(f map[string]string) string {
			return fmt.Sprintf("`wrk -t%s -c1024` for %s on 1 MiB responses, --timeout longer than the run so that every latency is recorded; "+
				"past 2 s = responses slower than 2 s", f["threads"], f["duration"])
		},
		target: "p90 ≤ nginx's and no request past 2 s (issue 7: pilb p90 1.22 s vs nginx 0.87 s, 21 past 2 s)",
		cols: []column{colRPS, colP50, colP90, colP99, colMax, {results.ValSlow, "past 2 s", "%.0f", noCompare},
			colTimeouts, colSockErrs, colPeakRSS, colCPU},
		headline: []string{results.ValP90, results.ValSlow},
		meets: func(f results.Figure, peers map[string]results.Figure) (bool, string) {
			var miss []string
			if s := f.Values[results.ValSlow]; s > 0 {
				miss = append(miss, fmt.Sprintf("%.0f past 2 s", s))
			}
			if n, ok := peers["nginx"]; ok && n.OK() && f.Values[results.ValP90] > n.Values[results.ValP90] {
				miss = append(miss, fmt.Sprintf("p90 %.0f ms > nginx's %.0f", f.Values[results.ValP90], n.Values[results.ValP90]))
			}
			return len(miss) == 0, strings.Join(miss, ", ")
		},
	},
	{
		name: results.ScenarioCPU, title: "CPU per request at 64 connections",
		what: func(f map[string]string) string {
			return fmt.Sprintf("`wrk -t1 -c64` for %s on 12-byte responses with compare's configuration, as compare measures it", f["duration"])
		},
		target:   "no worse than today, within noise: compare pilb with -baseline-bin (pilb-base) measured in the same run",
		cols:     []column{colCPU, colRPS, colP99, colCores, colPeakPSS, colSockErrs},
		headline: []string{results.ValCPUPerReq},
	},
}

// writeHostile renders a KindHostile run: a summary, then per scenario
// what ran, issue 7's target, each proxy's figures (median, min–max over
// the rounds), pilb's ratios to the others round by round, and which
// rounds met the target.
func writeHostile(md *strings.Builder, run *results.Run) {
	writeHeader(md, run)
	md.WriteString("Memory in MB is 10⁶ bytes, per connection in KiB, as issue 7 states its targets. RSS sums the proxy's processes " +
		"(nginx: master and worker); a peak is the largest of the RSS polled every 100 ms and the kernel's VmHWM, reset at the start of the load.\n\n")
	writeHostileSummary(md, run)
	for _, sc := range hostileScenarios {
		variants := sc.variants
		if variants == nil {
			variants = []string{""}
		}
		var any bool
		for _, v := range variants {
			any = any || len(run.FiguresOf(sc.name, v)) > 0
		}
		if !any {
			continue
		}
		fmt.Fprintf(md, "## %s — %s\n\n%s.\n\n**Target (issue 7):** %s.\n\n", sc.name, sc.title, sc.what(run.Flags), sc.target)
		for _, v := range variants {
			figs := run.FiguresOf(sc.name, v)
			if len(figs) == 0 {
				continue
			}
			if v != "" {
				fmt.Fprintf(md, "### %s\n\n", v)
			}
			writeFigureTable(md, sc, figs)
			writeFigureRatios(md, sc, figs)
			writeVerdicts(md, sc, figs)
			writeFailures(md, figs)
		}
	}
}

// proxyOrder puts pilb first, then the others as they ran.
func proxyOrder(figs []results.Figure) []string {
	ps := results.FigureProxies(figs)
	slices.SortStableFunc(ps, func(a, b string) int {
		rank := func(p string) int {
			switch p {
			case "pilb":
				return 0
			case "pilb-base":
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	return ps
}

func writeFigureTable(md *strings.Builder, sc hostileScenario, figs []results.Figure) {
	md.WriteString("| proxy | rounds |")
	for _, c := range sc.cols {
		md.WriteString(" " + c.head + " |")
	}
	md.WriteString("\n|---|---|" + strings.Repeat("---|", len(sc.cols)) + "\n")
	for _, px := range proxyOrder(figs) {
		ok, all := 0, 0
		for _, f := range figs {
			if f.Proxy == px {
				all++
				if f.OK() {
					ok++
				}
			}
		}
		fmt.Fprintf(md, "| %s | %d/%d |", px, ok, all)
		for _, c := range sc.cols {
			s := results.ValueSpread(figs, px, c.key)
			if s.N == 0 {
				md.WriteString(" — |")
				continue
			}
			md.WriteString(" " + s.Format(c.verb) + " |")
		}
		md.WriteString("\n")
	}
	md.WriteString("\nMedians over the rounds that measured, min–max in brackets; rounds = measured / run.\n\n")
}

// writeFigureRatios sets pilb's figures against each other proxy's,
// round by round: a ratio table, and a difference table for figures
// near zero.
func writeFigureRatios(md *strings.Builder, sc hostileScenario, figs []results.Figure) {
	proxies := proxyOrder(figs)
	if !slices.Contains(proxies, "pilb") || len(proxies) < 2 {
		return
	}
	for _, how := range []comparison{byRatio, byDifference} {
		var cols []column
		for _, c := range sc.cols {
			if c.cmp == how {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			continue
		}
		label, sign := "ratio", "/"
		if how == byDifference {
			label, sign = "difference", "−"
		}
		md.WriteString("| " + label + ", round by round |")
		for _, c := range cols {
			md.WriteString(" " + c.head + " |")
		}
		md.WriteString("\n|---|" + strings.Repeat("---|", len(cols)) + "\n")
		for _, other := range proxies {
			if other == "pilb" {
				continue
			}
			fmt.Fprintf(md, "| pilb %s %s |", sign, other)
			for _, c := range cols {
				var s results.Spread
				verb := "%.2f"
				if how == byRatio {
					s = results.ValueRatios(figs, "pilb", other, c.key)
				} else {
					s, verb = results.ValueDifferences(figs, "pilb", other, c.key), "%+.2f"
				}
				if s.N == 0 {
					md.WriteString(" — |")
					continue
				}
				md.WriteString(" " + s.Format(verb) + " |")
			}
			md.WriteString("\n")
		}
		md.WriteString("\n")
	}
	md.WriteString("Ratios and differences are taken within a round (pilb's round k against the other's round k), ratios only where both figures " +
		"are positive; the median of those, min–max in brackets; — where no round had both.\n\n")
}

// writeVerdicts says, per proxy, in how many rounds the target was met
// and why each other round missed it.
func writeVerdicts(md *strings.Builder, sc hostileScenario, figs []results.Figure) {
	if sc.meets == nil {
		return
	}
	md.WriteString("| proxy | rounds meeting the target | misses |\n|---|---|---|\n")
	for _, px := range proxyOrder(figs) {
		met, n, misses := verdict(sc, figs, px)
		fmt.Fprintf(md, "| %s | %d of %d | %s |\n", px, met, n, strings.Join(misses, "; "))
	}
	md.WriteString("\n")
}

// verdict counts the measured rounds of px that met sc's target and
// describes the others.
func verdict(sc hostileScenario, figs []results.Figure, px string) (met, n int, misses []string) {
	for _, f := range figs {
		if f.Proxy != px || !f.OK() {
			continue
		}
		peers := map[string]results.Figure{}
		for _, g := range figs {
			if g.Round == f.Round && g.Proxy != px {
				peers[g.Proxy] = g
			}
		}
		n++
		if ok, why := sc.meets(f, peers); ok {
			met++
		} else {
			misses = append(misses, fmt.Sprintf("r%d: %s", f.Round, why))
		}
	}
	return met, n, misses
}

func writeFailures(md *strings.Builder, figs []results.Figure) {
	for _, f := range figs {
		if f.Err != "" {
			fmt.Fprintf(md, "- %s round %d failed: %s\n", f.Proxy, f.Round, oneLine(f.Err))
		}
	}
	for _, f := range figs {
		if f.Err != "" {
			md.WriteString("\n")
			return
		}
	}
}

// writeHostileSummary is one row per scenario and variant: the headline
// figures of every proxy and how often pilb met the target.
func writeHostileSummary(md *strings.Builder, run *results.Run) {
	proxies := proxyOrder(run.Figures)
	md.WriteString("## Summary\n\nHeadline figures, medians over the rounds (min–max); the last column counts pilb's rounds that met issue 7's target.\n\n")
	md.WriteString("| scenario | target |")
	for _, px := range proxies {
		md.WriteString(" " + px + " |")
	}
	md.WriteString(" pilb met it |\n|---|---|" + strings.Repeat("---|", len(proxies)+1) + "\n")
	for _, sc := range hostileScenarios {
		variants := sc.variants
		if variants == nil {
			variants = []string{""}
		}
		for _, v := range variants {
			figs := run.FiguresOf(sc.name, v)
			if len(figs) == 0 {
				continue
			}
			name := sc.name
			if v != "" {
				name += " " + v
			}
			fmt.Fprintf(md, "| %s | %s |", name, shortTarget(sc.target))
			for _, px := range proxies {
				var parts []string
				for _, key := range sc.headline {
					c := columnOf(sc, key)
					if s := results.ValueSpread(figs, px, key); s.N > 0 {
						parts = append(parts, c.head+" "+s.Format(c.verb))
					}
				}
				cell := strings.Join(parts, "; ")
				if cell == "" {
					cell = "—"
				}
				md.WriteString(" " + cell + " |")
			}
			met := "—"
			if sc.meets != nil && slices.Contains(proxies, "pilb") {
				if m, n, _ := verdict(sc, figs, "pilb"); n > 0 {
					met = fmt.Sprintf("%d of %d", m, n)
				}
			}
			md.WriteString(" " + met + " |\n")
		}
	}
	md.WriteString("\n")
}

// shortTarget is a target without the figures issue 7 measured.
func shortTarget(t string) string {
	if i := strings.Index(t, " (issue 7"); i >= 0 {
		return t[:i]
	}
	return t
}

func columnOf(sc hostileScenario, key string) column {
	for _, c := range sc.cols {
		if c.key == key {
			return c
		}
	}
	return column{key: key, head: key, verb: "%.2f"}
}
