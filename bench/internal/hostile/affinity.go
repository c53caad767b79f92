package hostile

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxCPU bounds the CPU numbers ParseCPUList accepts: unix.CPUSet's size.
const maxCPU = 1024

// ParseCPUList parses a CPU list of taskset's form: "1", "0-3", "0,2-3".
func ParseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= maxCPU {
			return nil, fmt.Errorf("%w: %q", ErrCPUList, s)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// PinSelf keeps every thread of this process on cpus (taskset's form),
// so that the harness's own clients (slowloris, idle connections, slow
// transfers) run on the load side's CPUs and leave the proxies' CPUs to
// the proxies. Threads started later inherit the mask of the thread that
// starts them, so the threads are pinned twice over, in case one was
// started between the listing and the pinning.
func PinSelf(cpus string) error {
	list, err := ParseCPUList(cpus)
	if err != nil {
		return err
	}
	var set unix.CPUSet
	for _, c := range list {
		set.Set(c)
	}
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				return fmt.Errorf("hostile: pin thread %d to CPUs %s: %w", tid, cpus, err)
			}
		}
	}
	return nil
}
