package sizing

import (
	"fmt"
	"io"
)

// WriteTable prints plan as a markdown table with its assumptions.
func WriteTable(w io.Writer, plan Plan, cat Catalog) {
	t, c, p := plan.Target, plan.Capacity, plan.Params
	fmt.Fprintf(w, "Target: %.0f req/s at p99 ≤ %g ms, %d-byte responses, %.0f%% headroom\n", t.RPS, t.P99MS, t.RespBytes, 100*p.Headroom)
	fmt.Fprintf(w, "Capacity: %.0f req/s per core, scaling efficiency %.2f (%s)\n", c.PerCoreRPS, c.ScalingEff, c.Source)
	fmt.Fprintf(w, "Needs: %d vCPUs on one instance; %.2f Gbit/s each way (body + %d B overhead per exchange)\n",
		plan.VCPUsNeeded, plan.NetGbps, p.OverheadBytes)
	fmt.Fprintf(w, "Prices: %s on-demand, %s, as of %s. %s\n\n", cat.Region, cat.Currency, cat.AsOf, cat.Source)
	fmt.Fprintln(w, "| rank | instance | arch | vCPUs | GiB | baseline Gbit/s | count | CPU use | network use | bottleneck | $/month |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for i, cd := range plan.Candidates {
		fmt.Fprintf(w, "| %d | %s | %s | %d | %g | %g | %d | %.0f%% | %.0f%% | %s | %.2f |\n", i+1, cd.Type, cd.Arch, cd.VCPUs,
			cd.MemoryGiB, cd.BaselineGbps, cd.Count, 100*cd.CPUUse/float64(cd.Count), 100*cd.NetUse/float64(cd.Count),
			cd.Bottleneck, cd.MonthlyUSD)
	}
	fmt.Fprintln(w, "\nCPU and network use are per instance, headroom included. A count above 1 means a fleet behind a load balancer (its cost not included).")
}
