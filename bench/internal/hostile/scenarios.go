package hostile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/load"
	"github.com/pilb-proxy/pilb/bench/internal/procstat"
	"github.com/pilb-proxy/pilb/bench/internal/proxies"
	"github.com/pilb-proxy/pilb/bench/internal/results"
	"github.com/pilb-proxy/pilb/bench/internal/suite"
)

// newFigure starts a figure of scenario for a proxy and round.
func newFigure(scenario, variant, proxy string, round int) results.Figure {
	return results.Figure{Scenario: scenario, Variant: variant, Proxy: proxy, Round: round, Values: map[string]float64{}}
}

// failed is a figure that measured nothing.
func failed(scenario, variant, proxy string, round int, err error) results.Figure {
	return results.Figure{Scenario: scenario, Variant: variant, Proxy: proxy, Round: round, Err: err.Error()}
}

// rounds runs each round of a scenario whose proxies are started afresh
// every round with cfg, calling each for every proxy in the round's
// order. need is one proxy's measurement time, for the deadline.
func (e *Env) rounds(ctx context.Context, run *results.Run, scenario string, cfg proxies.Config, need time.Duration,
	each func(in *instance, round int) bool) bool {
	for round := 1; round <= e.Rounds; round++ {
		if !e.fits(ctx, need) {
			return false
		}
		ins := e.startAll(ctx, cfg, "", func(p Proxy, err error) {
			e.record(run, failed(scenario, "", p.Name, round, err))
		})
		ok := true
		for _, in := range rotate(ins, round) {
			if !e.fits(ctx, need) || !each(in, round) {
				ok = false
				break
			}
		}
		stopAll(ins)
		if !ok {
			return false
		}
	}
	return true
}

// conns: 8,000 keep-alive clients under wrk for Duration.
func (e *Env) conns(ctx context.Context, run *results.Run) bool {
	e.note("conns8000: wrk -t%d -c%d --timeout %s for %s, %d rounds", e.Threads, e.Clients, connsTimeout, e.Duration, e.Rounds)
	return e.rounds(ctx, run, results.ScenarioConns, e.hostileConfig(e.Backends), e.Duration+warmup+measureSlack, func(in *instance, round int) bool {
		e.warm(ctx, in, warmup)
		w, err := e.wrk(ctx, in, load.Spec{URL: in.url(sizePath(smallResponse)), Conns: e.Clients, Duration: e.Duration,
			Threads: e.Threads, Timeout: connsTimeout})
		f := newFigure(results.ScenarioConns, "", in.name, round)
		if err != nil {
			f = failed(results.ScenarioConns, "", in.name, round, err)
		} else {
			wrkValues(f.Values, w)
			f.Load = &w.res
		}
		e.record(run, f, results.ValRPS, results.ValP99, results.ValTimeouts, results.ValSocketErrors, results.ValPeakRSS, results.ValCPUPerReq)
		return ctx.Err() == nil
	})
}

// slowloris: wrk -c64 with and without Slowloris connections; the
// order of the two alternates by round.
func (e *Env) slowloris(ctx context.Context, run *results.Run) bool {
	e.note("slowloris: %d connections, a byte every %s, header timeout %s, beside wrk -c%d for %s, %d rounds",
		e.Slowloris, e.SlowlorisInterval, e.HeaderTimeout, slowlorisWrk, e.Duration, e.Rounds)
	need := 2*e.Duration + warmup + slowlorisRampMax + 2*measureSlack
	cfg := e.hostileConfig(e.Backends)
	cfg.HeaderTimeout = e.HeaderTimeout
	return e.rounds(ctx, run, results.ScenarioSlowloris, cfg, need, func(in *instance, round int) bool {
		e.warm(ctx, in, warmup)
		spec := load.Spec{URL: in.url(sizePath(smallResponse)), Conns: slowlorisWrk, Duration: e.Duration, Threads: 1}
		f := newFigure(results.ScenarioSlowloris, "", in.name, round)
		var quiet, loaded wrkResult
		var st SlowlorisStats
		var err error
		for _, withSlowloris := range []bool{round%2 == 0, round%2 != 0} {
			if !withSlowloris {
				quiet, err = e.wrk(ctx, in, spec)
			} else {
				loaded, st, err = e.underSlowloris(ctx, in, spec)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			f = failed(results.ScenarioSlowloris, "", in.name, round, err)
		} else {
			wrkValues(f.Values, loaded)
			f.Load = &loaded.res
			f.Values[results.ValQuietRPS] = quiet.res.RPS
			f.Values[results.ValQuietP99] = quiet.res.Latency.P99
			if quiet.res.RPS > 0 {
				f.Values[results.ValKept] = loaded.res.RPS / quiet.res.RPS
			}
			f.Values[results.ValSlowOpen] = float64(st.Open)
			f.Values[results.ValSlowDials] = float64(st.Dials)
			f.Values[results.ValSlow408] = float64(st.Status408)
		}
		e.record(run, f, results.ValQuietRPS, results.ValRPS, results.ValKept, results.ValP99, results.ValSlowOpen, results.ValSlowDials)
		return ctx.Err() == nil
	})
}

// underSlowloris opens the slowloris connections, waits until all are
// open (or slowlorisRampMax), runs spec, and returns the wrk result and
// the slowloris counters as they were when wrk finished.
func (e *Env) underSlowloris(ctx context.Context, in *instance, spec load.Spec) (wrkResult, SlowlorisStats, error) {
	sl := Slowloris{Addr: in.addr, Conns: e.Slowloris, Interval: e.SlowlorisInterval}.Start(ctx)
	defer sl.Stop()
	ramp := time.Now().Add(slowlorisRampMax)
	for sl.Stats().Open < int64(e.Slowloris) && time.Now().Before(ramp) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if open := sl.Stats().Open; open < int64(e.Slowloris) {
		e.note("  %s: only %d of %d slowloris connections open after %s", in.name, open, e.Slowloris, slowlorisRampMax)
	}
	w, err := e.wrk(ctx, in, spec)
	return w, sl.Stats(), err
}

// idle: Clients keep-alive connections, one request each, then idle;
// the proxy's memory before and after.
func (e *Env) idle(ctx context.Context, run *results.Run) bool {
	e.note("idle8000: %d keep-alive connections, one GET each, then idle; %d rounds", e.Clients, e.Rounds)
	return e.rounds(ctx, run, results.ScenarioIdle, e.hostileConfig(e.Backends), idleMaxTime, func(in *instance, round int) bool {
		f := newFigure(results.ScenarioIdle, "", in.name, round)
		if err := e.idleOne(ctx, in, f.Values); err != nil {
			f = failed(results.ScenarioIdle, "", in.name, round, err)
		}
		e.record(run, f, results.ValOpened, results.ValStillOpen, results.ValRSSBefore, results.ValRSSAfter, results.ValRSSPerConn, results.ValPSSPerConn, results.ValRSSPerBusy)
		return ctx.Err() == nil
	})
}

func (e *Env) idleOne(ctx context.Context, in *instance, v map[string]float64) error {
	path := sizePath(smallResponse)
	// A few requests first, so that the backend connections and the
	// proxy's first buffers are part of the baseline.
	warm := OpenIdle(ctx, in.addr, path, idleWarm, idleWarm)
	warm.Close()
	if warm.Err != nil {
		return fmt.Errorf("warm-up: %w", warm.Err)
	}
	sleepCtx(ctx, settle)
	pids := in.px.PIDs()
	before, err := procstat.ReadMemory(pids...)
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, idleMaxTime)
	set := OpenIdle(octx, in.addr, path, e.Clients, idleParallel)
	cancel()
	defer set.Close()
	sleepCtx(ctx, idleSettle)
	after, err := procstat.ReadMemory(pids...)
	if err != nil {
		return err
	}
	n := set.Len()
	if n == 0 {
		return fmt.Errorf("no connection got its response: %v", set.Err)
	}
	// Then clients that come and go beside them (wrk -c64, a new
	// connection per request), as on a proxy in service: memory the idle
	// connections let go of (a parked client's gnet state, say) is reused
	// rather than left to the runtime.
	_, _ = load.Run(ctx, load.Spec{Tool: "wrk", URL: in.url(sizePath(smallResponse)), Conns: slowlorisWrk, Duration: e.Duration,
		Threads: 1, CPUs: e.LoadCPUs, Close: true})
	sleepCtx(ctx, idleSettle)
	busy, err := procstat.ReadMemory(pids...)
	if err != nil {
		return err
	}
	v[results.ValRSSPerBusy] = float64(busy.RSS-before.RSS) / float64(n) / 1024
	v[results.ValOpened] = float64(n)
	v[results.ValFailed] = float64(set.Failed)
	v[results.ValStillOpen] = float64(set.StillOpen())
	v[results.ValRSSBefore] = float64(before.RSS) / bytesPerMB
	v[results.ValRSSAfter] = float64(after.RSS) / bytesPerMB
	v[results.ValRSSPerConn] = float64(after.RSS-before.RSS) / float64(n) / 1024
	if before.PSS > 0 && after.PSS > 0 {
		v[results.ValPSSPerConn] = float64(after.PSS-before.PSS) / float64(n) / 1024
	}
	if set.Failed > 0 {
		e.note("  %s: %d connections failed: %v", in.name, set.Failed, set.Err)
	}
	return in.alive()
}

// transfer: a slow download and a slow upload through every proxy at
// once, each on its own instance of the proxy, all with Origin as the
// only backend.
func (e *Env) transfer(ctx context.Context, run *results.Run) bool {
	e.note("slowtransfer: %s downloaded at %s/s and %s uploaded to a backend reading %s/s, every proxy at once; %d rounds (~%s each)",
		sizeString(e.TransferSize), sizeString(e.TransferRate), sizeString(e.TransferSize), sizeString(e.TransferRate),
		e.Rounds, e.transferTime().Round(time.Second))
	origin, err := StartOrigin(e.TransferRate)
	if err != nil {
		for round := 1; round <= e.Rounds; round++ {
			for _, p := range e.Proxies {
				for _, v := range []string{results.VariantDownload, results.VariantUpload} {
					e.record(run, failed(results.ScenarioTransfer, v, p.Name, round, fmt.Errorf("origin: %w", err)))
				}
			}
		}
		return ctx.Err() == nil
	}
	defer origin.Close()
	for round := 1; round <= e.Rounds; round++ {
		if !e.fits(ctx, e.transferTime()+transferWarm+measureSlack) {
			return false
		}
		e.transferRound(ctx, run, origin, round)
	}
	return ctx.Err() == nil
}

// transferJob is one slow transfer through one instance.
type transferJob struct {
	in      *instance
	variant string
	fresh   procstat.Memory // after a few small requests
	before  procstat.Memory // after the warm-up transfers
	done    counter
	fig     results.Figure
}

func (e *Env) transferRound(ctx context.Context, run *results.Run, origin *Origin, round int) {
	cfg := e.hostileConfig([]string{origin.Addr})
	var jobs []*transferJob
	var all []*instance
	for _, variant := range []string{results.VariantDownload, results.VariantUpload} {
		ins := e.startAll(ctx, cfg, " "+variant, func(p Proxy, err error) {
			e.record(run, failed(results.ScenarioTransfer, variant, p.Name, round, err))
		})
		all = append(all, ins...)
		for _, in := range ins {
			jobs = append(jobs, &transferJob{in: in, variant: variant, fig: newFigure(results.ScenarioTransfer, variant, in.name, round)})
		}
	}
	defer stopAll(all)
	// The first requests through each instance and its fresh memory; then
	// a warm-up of the transfer's kind at full speed, and the baseline.
	// The growth is measured from the warm baseline: what a slow transfer
	// adds to a proxy that has served traffic before, as one in service
	// has. The one-time costs of a fresh process (its first garbage
	// collections' metadata, free lists filled the first time, pages of
	// its read buffers touched the first time) are the cold growth.
	for _, j := range jobs {
		set := OpenIdle(ctx, j.in.addr, "/bytes/1024", 4, 4)
		set.Close()
		if set.Err != nil {
			j.fig = failed(results.ScenarioTransfer, j.variant, j.in.name, round, fmt.Errorf("warm-up: %w", set.Err))
		}
	}
	// baseline reads every instance's memory into the field at returns.
	baseline := func(at func(j *transferJob) *procstat.Memory) {
		sleepCtx(ctx, settle)
		for _, j := range jobs {
			m, err := procstat.ReadMemory(j.in.px.PIDs()...)
			if err != nil && j.fig.Err == "" {
				j.fig = failed(results.ScenarioTransfer, j.variant, j.in.name, round, err)
			}
			*at(j) = m
		}
	}
	baseline(func(j *transferJob) *procstat.Memory { return &j.fresh })
	var warm sync.WaitGroup
	for _, j := range jobs {
		if j.fig.Err != "" {
			continue
		}
		warm.Add(1)
		go func() {
			defer warm.Done()
			if err := warmTransfer(ctx, j.in.addr, j.variant, e.TransferRate); err != nil {
				j.fig = failed(results.ScenarioTransfer, j.variant, j.in.name, round, fmt.Errorf("warm-up: %w", err))
			}
		}()
	}
	warm.Wait()
	baseline(func(j *transferJob) *procstat.Memory { return &j.before })
	tctx, cancel := context.WithTimeout(ctx, e.transferTime()*3/2+transferSlack)
	defer cancel()
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.fig.Err != "" {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); e.transferOne(tctx, j) }()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	e.transferProgress(finished, jobs, round)
	for _, j := range jobs {
		e.record(run, j.fig, results.ValGrowthPeak, results.ValGrowthCold, results.ValGrowthEnd, results.ValPSSGrowth, results.ValRate)
	}
}

// transferOne runs one transfer while watching the instance's memory.
func (e *Env) transferOne(ctx context.Context, j *transferJob) {
	pids := j.in.px.PIDs()
	watch := watchMemory(pids)
	var t Transfer
	var err error
	if j.variant == results.VariantDownload {
		t, err = SlowDownload(ctx, j.in.addr, e.TransferSize, e.TransferRate, &j.done)
	} else {
		t, err = Upload(ctx, j.in.addr, e.TransferSize, &j.done)
	}
	peak, werr := watch.finish()
	end, eerr := procstat.ReadMemory(pids...)
	if err == nil {
		err = errors.Join(werr, eerr, j.in.alive())
	}
	if err != nil {
		j.fig.Err = fmt.Sprintf("%v (after %d of %d bytes, %s)", err, j.done.Load(), e.TransferSize, t.Elapsed.Round(time.Second))
		return
	}
	v := j.fig.Values
	v[results.ValRSSBefore] = float64(j.before.RSS) / bytesPerMB
	v[results.ValGrowthPeak] = float64(peak.RSS-j.before.RSS) / bytesPerMB
	v[results.ValGrowthCold] = float64(peak.RSS-j.fresh.RSS) / bytesPerMB
	v[results.ValGrowthEnd] = float64(end.RSS-j.before.RSS) / bytesPerMB
	if peak.PSS > 0 && j.before.PSS > 0 {
		v[results.ValPSSGrowth] = float64(peak.PSS-j.before.PSS) / bytesPerMB
	}
	v[results.ValSeconds] = t.Elapsed.Seconds()
	if t.Elapsed > 0 {
		v[results.ValRate] = float64(t.Bytes) / (1 << 20) / t.Elapsed.Seconds()
	}
}

// transferProgress prints how far the transfers are every
// transferReport until finished closes.
func (e *Env) transferProgress(finished <-chan struct{}, jobs []*transferJob, round int) {
	tick := time.NewTicker(transferReport)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			return
		case <-tick.C:
			var done, want int64
			for _, j := range jobs {
				done += j.done.Load()
				want += e.TransferSize
			}
			if want > 0 {
				e.note("  slowtransfer r%d: %s of %s moved (%.0f%%)", round, sizeString(done), sizeString(want), 100*float64(done)/float64(want))
			}
		}
	}
}

// downloads: 1,024 concurrent 1 MiB downloads under wrk, with the count
// of responses slower than 2 s.
func (e *Env) downloads(ctx context.Context, run *results.Run) bool {
	e.note("downloads1024: wrk -t%d -c%d on 1 MiB responses for %s, responses past %s counted; %d rounds",
		e.Threads, downloadConns, e.Duration, downloadSlow, e.Rounds)
	return e.rounds(ctx, run, results.ScenarioDownloads, e.hostileConfig(e.Backends), e.Duration+warmup+measureSlack, func(in *instance, round int) bool {
		e.warm(ctx, in, warmup)
		// A --timeout longer than the run makes wrk record every
		// response's latency, so that the slow ones are all counted.
		w, err := e.wrk(ctx, in, load.Spec{URL: in.url(sizePath(downloadSize)), Conns: downloadConns, Duration: e.Duration,
			Threads: e.Threads, Timeout: e.Duration + measureSlack, SlowOver: downloadSlow})
		f := newFigure(results.ScenarioDownloads, "", in.name, round)
		if err != nil {
			f = failed(results.ScenarioDownloads, "", in.name, round, err)
		} else {
			wrkValues(f.Values, w)
			f.Values[results.ValSlow] = float64(w.res.Slow)
			f.Load = &w.res
		}
		e.record(run, f, results.ValRPS, results.ValP50, results.ValP90, results.ValP99, results.ValMax, results.ValSlow, results.ValPeakRSS)
		return ctx.Err() == nil
	})
}

// cpu: CPU per request at 64 connections and 12-byte responses, as
// compare measures it: the compare configuration, the proxies kept
// running across the rounds, one wrk thread.
func (e *Env) cpu(ctx context.Context, run *results.Run) bool {
	e.note("cpu64: wrk -t1 -c%d on %d-byte responses for %s, the compare configuration; %d rounds", cpuConns, smallResponse, e.Duration, e.Rounds)
	cfg := proxies.Config{Backends: e.Backends, Loops: 1, CPUs: e.ProxyCPUs, ConnsPerBackend: e.ConnsPerBackend}
	ins := e.startAll(ctx, cfg, " cpu", func(p Proxy, err error) {
		for round := 1; round <= e.Rounds; round++ {
			e.record(run, failed(results.ScenarioCPU, "", p.Name, round, err))
		}
	})
	defer stopAll(ins)
	for _, in := range ins {
		e.warm(ctx, in, cpuWarmup)
	}
	lad := suite.Ladder{Duration: e.Duration, Threads: 1, CPUs: e.LoadCPUs}
	for round := 1; round <= e.Rounds; round++ {
		for _, in := range rotate(ins, round) {
			if !e.fits(ctx, e.Duration+measureSlack) {
				return false
			}
			t := suite.Target{Name: in.name, Loops: 1, BaseURL: "http://" + in.addr,
				Sample: func() (procstat.Sample, error) { return procstat.Read(in.px.PIDs()...) }}
			st := suite.Measure(ctx, t, "wrk", smallResponse, cpuConns, lad)
			f := newFigure(results.ScenarioCPU, "", in.name, round)
			if st.Err != "" {
				f = failed(results.ScenarioCPU, "", in.name, round, fmt.Errorf("%s", st.Err))
			} else {
				loadValues(f.Values, st.Load)
				f.Values[results.ValCPUPerReq] = st.CPUPerRequestUS
				f.Values[results.ValCores] = st.ProxyCores
				if st.ProxyMemKind == procstat.MemPSS {
					f.Values[results.ValPeakPSS] = float64(st.ProxyMemBytes) / bytesPerMB
				} else {
					f.Values[results.ValPeakRSS] = float64(st.ProxyMemBytes) / bytesPerMB
				}
				f.Load = &st.Load
			}
			e.record(run, f, results.ValRPS, results.ValP99, results.ValCPUPerReq, results.ValCores)
		}
	}
	return ctx.Err() == nil
}

// sizeString prints a byte count in the largest binary unit it fills,
// to one decimal at most: "1 GiB", "300 KiB", "1.5 MiB".
func sizeString(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift {
			v := float64(n) / float64(int64(1)<<u.shift)
			return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}
