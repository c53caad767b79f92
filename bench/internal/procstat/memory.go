package procstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Memory is the summed memory figures of some processes at one instant,
// in bytes.
type Memory struct {
	// RSS is the resident set size (VmRSS): pages shared between the
	// summed processes count once per process.
	RSS int64
	// PSS is the proportional set size from smaps_rollup; 0 when the
	// kernel lacks it (before Linux 4.14).
	PSS int64
	// HWM is the summed peak RSS (VmHWM) of each process since it
	// started or since ResetPeak. Peaks of different processes may fall
	// at different instants, so over several processes it bounds the
	// peak of the sum from above.
	HWM int64
}

// ReadMemory reads the summed Memory of pids. A process that has exited
// fails it with ErrGone.
func ReadMemory(pids ...int) (Memory, error) {
	var m Memory
	pss := true
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			return m, gone(err)
		}
		st, err := ParseStatus(string(b))
		if err != nil {
			return m, err
		}
		m.RSS += st.RSS
		m.HWM += st.HWM
		if pss {
			p, err := ReadPSS(pid)
			switch {
			case err == nil:
				m.PSS += p
			case errors.Is(err, ErrGone):
				return m, err
			default:
				pss = false
			}
		}
	}
	if !pss {
		m.PSS = 0
	}
	return m, nil
}

// ParseStatus returns the VmRSS and VmHWM lines of a /proc/PID/status
// file (proc(5)) in bytes, as RSS and HWM.
func ParseStatus(status string) (Memory, error) {
	var m Memory
	var sawRSS, sawHWM bool
	for line := range strings.Lines(status) {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || key != "VmRSS" && key != "VmHWM" {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
			return Memory{}, fmt.Errorf("%w: %q", ErrBadStatus, strings.TrimSpace(line))
		}
		if key == "VmRSS" {
			m.RSS, sawRSS = kb<<10, true
		} else {
			m.HWM, sawHWM = kb<<10, true
		}
	}
	if !sawRSS || !sawHWM {
		return Memory{}, ErrBadStatus
	}
	return m, nil
}

// ResetPeak sets the VmHWM of each of pids back to its current RSS
// (writing 5 to /proc/PID/clear_refs, Linux 4.0+), so that the next
// ReadMemory's HWM is the peak since now. It needs the right to write
// that file (the processes' owner or root).
func ResetPeak(pids ...int) error {
	for _, pid := range pids {
		if err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0); err != nil {
			return gone(err)
		}
	}
	return nil
}
