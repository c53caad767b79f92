package load

import (
	"bufio"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReportScript is the wrk Lua script whose done() prints a
// "PILB-BENCH key=value ..." line with exact counters and p99.9.
//
//go:embed report.lua
var ReportScript []byte

// ParseWrk parses the output of `wrk --latency` with or without
// ReportScript. The script's line, when present, takes precedence for the
// counters and percentiles it carries.
func ParseWrk(out string) (Result, error) {
	r := Result{Tool: "wrk"}
	var sawRPS, sawScript bool
	sc := bufio.NewScanner(strings.NewReader(out))
	inDist := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "PILB-BENCH "):
			if err := parseScriptLine(&r, f[1:]); err != nil {
				return r, err
			}
			sawScript = true
		case line == "Latency Distribution":
			inDist = true
			continue
		case inDist && len(f) == 2 && strings.HasSuffix(f[0], "%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			switch f[0] {
			case "50%":
				r.Latency.P50 = ms(d)
			case "90%":
				r.Latency.P90 = ms(d)
			case "99%":
				r.Latency.P99 = ms(d)
			}
			continue
		case len(f) >= 4 && f[0] == "Latency":
			// "Latency 60.87us 138.29us 3.21ms 99.05%": avg, stdev, max.
			if d, err := parseWrkDuration(f[1]); err == nil {
				r.Latency.Mean = ms(d)
			}
			if d, err := parseWrkDuration(f[3]); err == nil {
				r.Latency.Max = ms(d)
			}
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			// "466940 requests in 2.10s, 491.18MB read"
			r.Requests, _ = strconv.ParseInt(f[0], 10, 64)
			if d, err := parseWrkDuration(strings.TrimSuffix(f[3], ",")); err == nil {
				r.Seconds = d.Seconds()
			}
			r.Bytes = parseWrkSize(f[4])
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			// "Socket errors: connect 0, read 0, write 0, timeout 8"
			var se SocketErrors
			if _, err := fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d",
				&se.Connect, &se.Read, &se.Write, &se.Timeout); err == nil {
				r.Socket = se
				r.Errors = se.Connect + se.Read + se.Write + se.Timeout
			}
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
			sawRPS = true
		case strings.HasPrefix(line, "Transfer/sec:") && len(f) == 2:
			r.BytesPerSec = float64(parseWrkSize(f[1]))
		}
		inDist = false
	}
	if !sawRPS && !sawScript {
		return r, fmt.Errorf("%w: %q", ErrNoSummary, firstLine(out))
	}
	if sawScript && r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
		r.BytesPerSec = float64(r.Bytes) / r.Seconds
	}
	return r, nil
}

// parseScriptLine reads ReportScript's key=value fields.
func parseScriptLine(r *Result, fields []string) error {
	v := map[string]float64{}
	for _, kv := range fields {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("load: bad wrk script field %q: %v", kv, err)
		}
		v[k] = x
	}
	us := func(k string) float64 { return v[k] / 1000 }
	r.Requests = int64(v["requests"])
	r.Bytes = int64(v["bytes"])
	r.Seconds = v["duration_us"] / 1e6
	r.Socket = SocketErrors{Connect: int64(v["connect"]), Read: int64(v["read"]), Write: int64(v["write"]), Timeout: int64(v["timeout"])}
	r.Errors = r.Socket.Connect + r.Socket.Read + r.Socket.Write + r.Socket.Timeout
	r.Non2xx = int64(v["status"])
	r.Latency = Latency{P50: us("p50_us"), P90: us("p90_us"), P99: us("p99_us"), P999: us("p999_us"),
		Mean: us("mean_us"), Max: us("max_us")}
	if slow, ok := v["slow_us"]; ok {
		r.SlowOverMS = slow / 1000
		r.Slow = int64(v["slow"])
	}
	return nil
}

// parseWrkDuration parses wrk's "53.00us", "1.29ms", "2.10s", "1.00m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			x, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("load: bad wrk duration %q", s)
			}
			return time.Duration(x * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("load: bad wrk duration %q", s)
}

// parseWrkSize parses wrk's binary-prefixed sizes: "491.18MB", "20.00MB",
// "4.85GB", "512.00B". Unparseable is 0.
func parseWrkSize(s string) int64 {
	mult := map[string]float64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "B": 1}
	for _, suf := range []string{"KB", "MB", "GB", "TB", "B"} {
		if num, ok := strings.CutSuffix(s, suf); ok {
			x, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0
			}
			return int64(x * mult[suf])
		}
	}
	return 0
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
