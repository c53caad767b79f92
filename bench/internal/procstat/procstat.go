// Package procstat reads a process's CPU time and memory from /proc, and
// the facts about this machine that a benchmark result must carry.
package procstat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. The kernel
// exports it to user space as 100 on every architecture Linux runs Go on
// (USER_HZ, independent of CONFIG_HZ).
const userHZ = 100

// Sample is the summed CPU time and resident memory of some processes at
// one instant.
type Sample struct {
	At time.Time
	// CPUSeconds is user plus system time since each process started.
	CPUSeconds float64
	// MemBytes is the processes' memory now: summed PSS when every one
	// has /proc/PID/smaps_rollup, else summed RSS (see MemKind).
	MemBytes int64
	// MemKind is MemPSS or MemRSS: which figure MemBytes is.
	MemKind string
	// PIDs are the processes summed. A step whose samples before and
	// after differ measured a proxy that was restarted in between.
	PIDs []int
	// Host holds the host-wide counters when the sample has them (an
	// agent's samples do); nil otherwise.
	Host *Host
}

// Stat is what one /proc/PID/stat line says.
type Stat struct {
	PID      int
	PPID     int
	UTime    uint64 // clock ticks in user mode
	STime    uint64 // clock ticks in kernel mode
	RSSPages int64
}

// ParseStat parses a /proc/PID/stat line (proc(5)). The command name may
// hold spaces and parentheses, so fields are counted from its last ')'.
func ParseStat(line string) (Stat, error) {
	open := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return Stat{}, ErrBadStat
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return Stat{}, ErrBadStat
	}
	// After ")": field 3 (state) is f[0]; ppid (4) f[1]; utime (14)
	// f[11]; stime (15) f[12]; rss (24) f[21].
	f := strings.Fields(line[end+1:])
	if len(f) < 22 {
		return Stat{}, ErrBadStat
	}
	s := Stat{PID: pid}
	var errs [4]error
	s.PPID, errs[0] = strconv.Atoi(f[1])
	s.UTime, errs[1] = strconv.ParseUint(f[11], 10, 64)
	s.STime, errs[2] = strconv.ParseUint(f[12], 10, 64)
	s.RSSPages, errs[3] = strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return Stat{}, fmt.Errorf("%w: %v", ErrBadStat, err)
	}
	return s, nil
}

// ReadStat reads /proc/PID/stat. A process that has exited is ErrGone.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, gone(err)
	}
	return ParseStat(string(b))
}

// gone maps the errors of reading a vanished /proc entry to ErrGone:
// ENOENT when the directory is gone, ESRCH when the process exits while
// the file is read.
func gone(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %v", ErrGone, err)
	}
	return err
}

// Memory figures a Sample may carry.
const (
	// MemPSS is the proportional set size: each page shared by n
	// processes counts 1/n to each, so summing nginx's master and workers
	// counts shared pages once.
	MemPSS = "PSS"
	// MemRSS is the resident set size: pages shared by several of the
	// summed processes are counted once per process.
	MemRSS = "RSS"
)

// Read samples the summed CPU time and memory of pids: their PSS when
// the kernel has smaps_rollup for all (Linux 4.14+), else their RSS. A
// process that has exited fails the sample with ErrGone: its CPU time
// would be missing from the sum, and a step's delta would be wrong.
func Read(pids ...int) (Sample, error) {
	s := Sample{At: time.Now(), MemKind: MemPSS, PIDs: pids}
	page := int64(os.Getpagesize())
	var rss, pss int64
	for _, pid := range pids {
		st, err := ReadStat(pid)
		if err != nil {
			return s, err
		}
		s.CPUSeconds += float64(st.UTime+st.STime) / userHZ
		rss += st.RSSPages * page
		if s.MemKind == MemPSS {
			p, err := ReadPSS(pid)
			if errors.Is(err, ErrGone) {
				return s, err
			}
			if err != nil {
				s.MemKind = MemRSS
			}
			pss += p
		}
	}
	s.MemBytes = rss
	if s.MemKind == MemPSS {
		s.MemBytes = pss
	}
	return s, nil
}

// ReadLive is Read over the processes of pids that are still there: a
// process that exits between being listed and being read is normal (a
// short-lived helper, a worker being replaced), so it is left out rather
// than failing the sample. live is what was summed; ErrGone when none
// was left.
func ReadLive(pids ...int) (s Sample, live []int, err error) {
	for _, pid := range pids {
		if _, err := ReadStat(pid); err == nil {
			live = append(live, pid)
		} else if !errors.Is(err, ErrGone) {
			return Sample{}, nil, err
		}
	}
	for range 3 { // one may still leave between the check and the read
		if len(live) == 0 {
			return Sample{}, nil, ErrGone
		}
		s, err = Read(live...)
		if !errors.Is(err, ErrGone) {
			return s, live, err
		}
		live = slices.DeleteFunc(live, func(p int) bool { _, err := ReadStat(p); return errors.Is(err, ErrGone) })
	}
	return Sample{}, nil, err
}

// ReadPSS returns the Pss line of /proc/PID/smaps_rollup in bytes.
func ReadPSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, gone(err)
	}
	return ParsePSS(string(b))
}

// ParsePSS returns the "Pss:" figure of a smaps_rollup file in bytes.
func ParsePSS(rollup string) (int64, error) {
	for line := range strings.Lines(rollup) {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(rest, "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("%w: %q", ErrBadRollup, strings.TrimSpace(line))
			}
			return kb << 10, nil
		}
	}
	return 0, ErrBadRollup
}

// Tree returns pid and all its descendants (nginx's master and workers,
// say), by scanning the ppid of every process.
func Tree(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(p); err == nil {
			children[st.PPID] = append(children[st.PPID], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// FindByName returns the PIDs whose command name (stat's comm) is name.
func FindByName(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			out = append(out, p)
		}
	}
	return out
}
