package hostile

import (
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
)

// memInterval is how often memory is polled during a measurement: often
// enough to see the peak of a 10 s run, seldom enough that reading
// smaps_rollup of a proxy with 8,000 connections costs nothing.
const memInterval = 100 * time.Millisecond

// memWatch polls the memory of a proxy's processes until finish.
type memWatch struct {
	pids []int
	// hwm is whether the kernel's peak (VmHWM) was reset at the start,
	// so that it is the peak of this measurement.
	hwm  bool
	stop chan struct{}
	done chan struct{}
	peak procstat.Memory
	err  error
}

// watchMemory resets the processes' VmHWM and starts polling.
func watchMemory(pids []int) *memWatch {
	w := &memWatch{pids: pids, stop: make(chan struct{}), done: make(chan struct{})}
	w.hwm = procstat.ResetPeak(pids...) == nil
	w.sample()
	go func() {
		defer close(w.done)
		tick := time.NewTicker(memInterval)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *memWatch) sample() {
	m, err := procstat.ReadMemory(w.pids...)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.peak.RSS = max(w.peak.RSS, m.RSS)
	w.peak.PSS = max(w.peak.PSS, m.PSS)
	if w.hwm {
		w.peak.HWM = max(w.peak.HWM, m.HWM)
	}
}

// finish stops polling and returns the peak: RSS is the larger of the
// polled RSS and the kernel's VmHWM when it was reset, PSS the polled
// PSS (0 without smaps_rollup). err is the first failed poll (a proxy
// that exited).
func (w *memWatch) finish() (procstat.Memory, error) {
	close(w.stop)
	<-w.done
	w.sample()
	p := w.peak
	p.RSS = max(p.RSS, p.HWM)
	return p, w.err
}
