package sizing

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteTable prints plan: the steps the answer rests on, the answer, the
// top ranked fleets (all when top ≤ 0), the assumptions that apply, and
// what a fleet needs besides instances.
func WriteTable(w io.Writer, plan Plan, cat Catalog, top int) {
	t, p := plan.Target, plan.Params
	pr := plan.Profiles[0]
	fmt.Fprintf(w, "Target: %.0f req/s", t.RPS)
	if p.Headroom > 0 {
		fmt.Fprintf(w, " (%.0f with %.0f%% headroom)", plan.Load, 100*p.Headroom)
	}
	fmt.Fprintf(w, " at p99 ≤ %g ms, %d-byte responses; every limit planned at %.0f%% (-target-util)\n\n", t.P99MS, t.RespBytes, 100*p.TargetUtil)

	fmt.Fprintf(w, "The answer rests on (%s, %s run; %s measured on %s):\n", pr.Dir, pr.Kind, pr.Proxy, hostLine(pr))
	n := 0
	step := func(format string, a ...any) {
		n++
		fmt.Fprintf(w, "%2d. %s\n", n, strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", "\n    "))
	}
	for _, s := range plan.Core.Steps {
		step("%s", s)
	}
	step("%s", plan.Scaling.Line)
	if plan.Core.IRQMeasured {
		step("NIC interrupt and softirq CPU of the proxy host is measured and included in the cost per request")
	} else {
		step("NIC interrupt CPU is LEFT OUT: loopback has no NIC, so these figures lack the interrupt and softirq work of a real " +
			"one; a remote run with an agent measures it and size includes it")
	}
	step("network per request: %d body + %d overhead bytes = %.0f bits each way (-overhead)", t.RespBytes, p.OverheadBytes, plan.GbpsPerRequest*1e9)
	if plan.PacketsMeasured {
		step("packets: %.1f per request in and out at the proxy host, measured (remote)", plan.PacketsPerRequest)
	} else {
		step("packets: %.0f per request in and out, ESTIMATED for %d-byte segments (-mss): request, response segments and delayed "+
			"ACKs on the client and the backend side; a remote run measures it", plan.PacketsPerRequest, p.MSS)
	}
	flowNote := "fine"
	if plan.PerFlowGbps > p.TargetUtil*plan.PerFlowCap {
		flowNote = "EXCEEDED: no instance count fixes this; spread the load over more client connections or use a cluster placement group"
	}
	step("per flow: %d client connections (-client-conns) carry %.3f Gbit/s each on average against %g Gbit/s per flow: %s",
		p.ClientConns, plan.PerFlowGbps, plan.PerFlowCap, flowNote)
	step("fleet: instances the load needs at %.0f%% of the binding limit, plus %d spare (-spare), at least %d (-min-count); "+
		"ranked by $/month, then by blast radius", 100*p.TargetUtil, p.Spare, p.MinCount)
	step("prices: %s on-demand %s, %s (%s); the sources and their dates are listed below", cat.Region, cat.Currency, cat.Path, "-catalog FILE for your own")

	if len(plan.Candidates) == 0 {
		fmt.Fprintln(w, "\nNo instance in the catalogue.")
		return
	}
	best := plan.Candidates[0]
	fmt.Fprintf(w, "\nAnswer: %d × %s, $%.2f/month on demand (%s binds at %.0f%% per instance; one down: the others at %.0f%%)\n",
		best.Count, best.Type, best.MonthlyUSD, best.Binding.Name, 100*best.Use, 100*best.AfterFailure)
	if !best.CPU.Measured {
		fmt.Fprintf(w, "WARNING: %s's CPU capacity is %s; a remote run on a %s replaces the assumption.\n", best.Type, best.CPU.Note, best.Type)
	}

	rows := plan.Candidates
	if top > 0 && len(rows) > top {
		rows = rows[:top]
	}
	fmt.Fprintf(w, "\n| rank | fleet | cpu | vCPUs | binds | use | one down | CPU factor | blast radius | $/month | price as of |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, c := range rows {
		factor := fmt.Sprintf("%.2f", c.CPU.Factor)
		if !c.CPU.Measured {
			factor += " assumed"
		}
		fmt.Fprintf(w, "| %d | %d × %s | %s | %d | %s | %.0f%% | %.0f%% | %s | 1/%d | %.2f | %s |\n", i+1, c.Count, c.Type, c.CPU.CPU(c.Instance),
			c.VCPUs, c.Binding.Name, 100*c.Use, 100*c.AfterFailure, factor, c.Count, c.MonthlyUSD, c.PriceAsOf)
	}
	if len(rows) < len(plan.Candidates) {
		fmt.Fprintf(w, "(%d more: -top 0 lists all)\n", len(plan.Candidates)-len(rows))
	}

	fmt.Fprintf(w, "\nLimits of %s, per instance at %.0f%%:\n", best.Type, 100*p.TargetUtil)
	for _, l := range best.Limits {
		max := "not published: not checked"
		if l.Known {
			max = fmt.Sprintf("%.0f req/s", l.MaxRPS)
		}
		mark := "  "
		if l.Name == best.Binding.Name {
			mark = "→ "
		}
		fmt.Fprintf(w, "  %s%-20s %-26s %s\n", mark, l.Name, max, l.Detail)
	}

	// One warning per assumption, naming the families it applies to.
	var notes []string
	families := map[string][]string{}
	for _, c := range rows {
		if c.CPU.Measured {
			continue
		}
		if !slices.Contains(notes, c.CPU.Note) {
			notes = append(notes, c.CPU.Note)
		}
		if f := Family(c.Type); !slices.Contains(families[c.CPU.Note], f) {
			families[c.CPU.Note] = append(families[c.CPU.Note], f)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nWARNING — CPU capacity assumed, not measured (a remote run on the family replaces it; size -results main,remote… uses it):")
		for _, n := range notes {
			fmt.Fprintf(w, "  - %s: %s\n", strings.Join(families[n], ", "), n)
		}
	}
	fmt.Fprintln(w)
	if best.Count > 1 && p.Front == FrontNLB {
		f := cat.Front
		fmt.Fprintf(w, "Front: %s — a TCP listener, cross-zone, the %d instances in its target group spread over at least two "+
			"availability zones, health check on the proxy port. $%.4f/hour fixed (%s, %s) plus capacity units that grow with traffic; "+
			"not in $/month, the same for every fleet. Behind it the proxies' traffic stays in the VPC (no internet-gateway cap).\n",
			f.Name, best.Count, f.USDPerHour, f.AsOf, f.Source)
	} else if p.Front == FrontDirect {
		fmt.Fprintln(w, "Front: none (-front direct): clients reach each instance's public address through the internet gateway, "+
			"by DNS round robin when there are several; the gateway cap applies, and a failed instance keeps receiving clients until DNS moves them.")
	}
	fmt.Fprintln(w, "Backends: pilb takes a static -backends list when it starts: start every proxy instance with the same list of "+
		"host:port (a DNS name is resolved at each connection, so a name that follows a backend's address keeps working). To add or "+
		"remove a backend, restart the proxies one at a time with the new list (SIGTERM drains; the front's health check moves "+
		"clients meanwhile), or have the deployment that registers backends write the list. pilb has no registration API.")

	fmt.Fprintln(w, "\nSources:")
	for _, k := range sortedSources(cat) {
		s := cat.Sources[k]
		fmt.Fprintf(w, "  [%s] %s (as of %s) %s\n", k, s.What, s.AsOf, s.URL)
	}
	if cat.Note != "" {
		fmt.Fprintf(w, "  %s\n", cat.Note)
	}
}

// CPU names an instance's processor, with "(HT)" for hyper-threaded
// vCPUs.
func (CPUMatch) CPU(in Instance) string {
	if in.ThreadsPerCore > 1 {
		return in.CPU + " (HT)"
	}
	return in.CPU
}

func hostLine(pr Profile) string {
	h := pr.Host
	s := h.CPUModel
	if s == "" {
		s = "an unknown CPU"
	}
	if h.Arch != "" {
		s += " (" + h.Arch + ")"
	}
	if h.InstanceType != "" {
		s = h.InstanceType + ", " + s
	}
	if h.CPUs > 0 {
		s += fmt.Sprintf(", %d CPUs", h.CPUs)
	}
	switch h.ThreadsPerCore {
	case 1:
		s += ", 1 thread per core"
	case 0:
	default:
		s += fmt.Sprintf(", %d threads per core", h.ThreadsPerCore)
	}
	return s
}

func sortedSources(cat Catalog) []string {
	keys := make([]string, 0, len(cat.Sources))
	for k := range cat.Sources {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
