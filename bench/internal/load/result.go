// Package load drives HTTP load generators (wrk, hey) and parses their
// output into Result. It knows nothing about proxies or reports.
package load

import "time"

// Result is what one load-generator run measured.
type Result struct {
	// Tool is "wrk" or "hey".
	Tool string `json:"tool"`
	// Requests is the number of completed requests, errors included.
	Requests int64 `json:"requests"`
	// Seconds is the measured run time.
	Seconds float64 `json:"seconds"`
	// RPS is Requests / Seconds as the tool reports it.
	RPS float64 `json:"rps"`
	// Bytes is the response bytes read (heads and bodies); 0 when the
	// tool does not report it.
	Bytes       int64   `json:"bytes"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// Latency percentiles in milliseconds. P999 is 0 when the tool does
	// not report it (hey, wrk without the report script).
	Latency Latency `json:"latency_ms"`
	// Errors counts connect, read, write and timeout errors.
	Errors int64 `json:"errors"`
	// Non2xx counts responses with a status outside 2xx (wrk: outside
	// 2xx and 3xx).
	Non2xx int64 `json:"non_2xx"`
}

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
