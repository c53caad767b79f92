package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Host is what the whole host did, cumulatively since boot: the CPU time
// spent in interrupts and softirqs (where a real NIC's receive and
// transmit work runs, counted in no process) and the packets on its
// network interfaces.
type Host struct {
	// IRQSeconds is the irq plus softirq time of all CPUs, in seconds.
	IRQSeconds float64 `json:"irq_seconds"`
	// NetPackets is received plus sent packets over every interface but
	// loopback.
	NetPackets int64 `json:"net_packets"`
}

// ReadHost reads /proc/stat and /proc/net/dev.
func ReadHost() (Host, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Host{}, err
	}
	h, err := parseProcStat(string(stat))
	if err != nil {
		return h, err
	}
	dev, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return h, err
	}
	h.NetPackets, err = ParseNetDev(string(dev))
	return h, err
}

// parseProcStat reads the irq (field 6) and softirq (field 7) ticks of
// the aggregate "cpu" line of /proc/stat (proc(5)).
func parseProcStat(stat string) (Host, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		irq, err1 := strconv.ParseUint(f[6], 10, 64)
		soft, err2 := strconv.ParseUint(f[7], 10, 64)
		if err1 != nil || err2 != nil {
			break
		}
		return Host{IRQSeconds: float64(irq+soft) / userHZ}, nil
	}
	return Host{}, fmt.Errorf("procstat: no cpu line with irq and softirq in /proc/stat")
}

// ParseNetDev sums received and sent packets over the interfaces of a
// /proc/net/dev file, loopback excepted.
func ParseNetDev(dev string) (int64, error) {
	var total int64
	sc := bufio.NewScanner(strings.NewReader(dev))
	seen := false
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || strings.Contains(name, "|") {
			continue
		}
		// Receive: bytes packets errs drop fifo frame compressed
		// multicast; transmit: bytes packets …: packets are f[1] and f[9].
		f := strings.Fields(rest)
		if len(f) < 10 {
			return 0, fmt.Errorf("procstat: short /proc/net/dev line for %s", name)
		}
		rx, err1 := strconv.ParseInt(f[1], 10, 64)
		tx, err2 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("procstat: bad /proc/net/dev line for %s", name)
		}
		total += rx + tx
		seen = true
	}
	if !seen {
		return 0, fmt.Errorf("procstat: no interface but lo in /proc/net/dev")
	}
	return total, nil
}
