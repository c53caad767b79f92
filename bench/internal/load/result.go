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
	// Socket splits Errors by kind where the tool says (wrk); zero for
	// hey, which reports errors by message only.
	Socket SocketErrors `json:"socket_errors,omitzero"`
	// Non2xx counts responses with a status outside 2xx (wrk: outside
	// 2xx and 3xx).
	Non2xx int64 `json:"non_2xx"`
	// SlowOverMS is the threshold of Slow in milliseconds; 0 when slow
	// responses were not counted (Spec.SlowOver unset).
	SlowOverMS float64 `json:"slow_over_ms,omitempty"`
	// Slow is the number of responses that took longer than SlowOverMS.
	Slow int64 `json:"slow,omitempty"`
}

// SocketErrors are wrk's error counters. Timeout counts the responses
// that arrived later than --timeout after their request (wrk 4.1 records
// no latency for them); a request that never gets an answer is counted
// nowhere.
type SocketErrors struct {
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Timeout int64 `json:"timeout"`
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
