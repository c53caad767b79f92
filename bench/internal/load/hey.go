package load

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseHey parses hey's default summary output. hey reports p10 … p99 but
// not p99.9, and its latencies have a resolution of 0.1 ms.
func ParseHey(out string) (Result, error) {
	r := Result{Tool: "hey"}
	var sawRPS bool
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasSuffix(line, ":") && !strings.Contains(line, "\t") {
			section = strings.TrimSuffix(line, ":")
			continue
		}
		f := strings.Fields(line)
		switch section {
		case "Summary":
			key, val, _ := strings.Cut(line, ":")
			val = strings.TrimSpace(val)
			switch key {
			case "Total":
				r.Seconds = heySecs(val)
			case "Slowest":
				r.Latency.Max = heySecs(val) * 1000
			case "Average":
				r.Latency.Mean = heySecs(val) * 1000
			case "Requests/sec":
				r.RPS, _ = strconv.ParseFloat(val, 64)
				sawRPS = true
			case "Total data":
				r.Bytes, _ = strconv.ParseInt(strings.Fields(val + " 0")[0], 10, 64)
			}
		case "Latency distribution":
			// "99% in 0.0038 secs"
			if len(f) >= 3 && f[1] == "in" {
				v := heySecs(f[2]) * 1000
				switch f[0] {
				case "50%":
					r.Latency.P50 = v
				case "90%":
					r.Latency.P90 = v
				case "99%":
					r.Latency.P99 = v
				}
			}
		case "Status code distribution":
			// "[200]	114801 responses"
			if len(f) >= 2 && strings.HasPrefix(f[0], "[") {
				code, _ := strconv.Atoi(strings.Trim(f[0], "[]"))
				n, _ := strconv.ParseInt(f[1], 10, 64)
				r.Requests += n
				if code < 200 || code > 299 {
					r.Non2xx += n
				}
			}
		case "Error distribution":
			// "[20]	Get "…": dial tcp …"
			if len(f) >= 1 && strings.HasPrefix(f[0], "[") {
				n, _ := strconv.ParseInt(strings.Trim(f[0], "[]"), 10, 64)
				r.Errors += n
				r.Requests += n
			}
		}
	}
	if !sawRPS {
		return r, fmt.Errorf("%w: %q", ErrNoSummary, firstLine(out))
	}
	if r.Seconds > 0 {
		r.BytesPerSec = float64(r.Bytes) / r.Seconds
		// hey's Requests/sec counts failed requests too; keep it, but
		// make it agree with Requests when hey printed NaN-ish figures.
		if r.RPS == 0 {
			r.RPS = float64(r.Requests) / r.Seconds
		}
	}
	return r, nil
}

// heySecs parses "0.0038 secs" or "0.0038"; NaN and garbage are 0.
func heySecs(s string) float64 {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "secs"))
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) {
		return 0
	}
	return x
}
