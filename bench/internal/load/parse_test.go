package load

import (
	"errors"
	"math"
	"os"
	"testing"
)

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Result
	}{
		{"wrk_latency.txt", Result{Requests: 466940, Seconds: 2.10, RPS: 222379.07, Bytes: 515039723,
			BytesPerSec: 245282324, Latency: Latency{P50: 0.053, P90: 0.068, P99: 0.162, Mean: 0.06087, Max: 3.21}}},
		{"wrk_non2xx.txt", Result{Requests: 348671, Seconds: 2.10, RPS: 166028.91, Non2xx: 348671,
			Bytes: 32422166, BytesPerSec: 15445524, Latency: Latency{P50: 0.034, P90: 0.055, P99: 0.077, Mean: 0.03845, Max: 1.67}}},
		// With the report script: exact counters and p99.9 win.
		{"wrk_script.txt", Result{Requests: 316282, Seconds: 2.099734, Bytes: 5207266848,
			RPS: 316282 / 2.099734, BytesPerSec: 5207266848 / 2.099734,
			Latency: Latency{P50: 0.073, P90: 0.097, P99: 0.438, P999: 7.613, Mean: 0.09791, Max: 9.733}}},
		{"wrk_socket_errors.txt", Result{Requests: 237887, Seconds: 4.007001, Bytes: 21647717, Errors: 8,
			Socket: SocketErrors{Timeout: 8}, RPS: 237887 / 4.007001, BytesPerSec: 21647717 / 4.007001,
			Latency: Latency{P50: 0.034, P90: 0.056, P99: 0.085, P999: 0.357, Mean: 0.0387, Max: 1.794}}},
		// PILB_BENCH_SLOW_US set: the count of responses past it.
		{"wrk_slow.txt", Result{Requests: 12544, Seconds: 10.09, Bytes: 13165445120, Errors: 3,
			Socket: SocketErrors{Read: 3}, RPS: 12544 / 10.09, BytesPerSec: 13165445120 / 10.09, SlowOverMS: 2000, Slow: 21,
			Latency: Latency{P50: 760, P90: 1220, P99: 2310, P999: 2900, Mean: 812.4, Max: 3100}}},
	} {
		got, err := ParseWrk(sample(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		tc.want.Tool = "wrk"
		checkResult(t, tc.file, got, tc.want)
	}
}

func TestParseWrkFailure(t *testing.T) {
	_, err := ParseWrk(sample(t, "wrk_connect_errors.txt"))
	if !errors.Is(err, ErrNoSummary) {
		t.Errorf("connection refused: err = %v, want ErrNoSummary", err)
	}
}

func TestParseHey(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Result
	}{
		{"hey_summary.txt", Result{Requests: 114801, Seconds: 2.0018, RPS: 57348.1122, Bytes: 117556224,
			BytesPerSec: 117556224 / 2.0018, Latency: Latency{P50: 0.2, P90: 0.5, P99: 3.8, Mean: 0.3, Max: 8.9}}},
		{"hey_non2xx.txt", Result{Requests: 48323, Non2xx: 48323, Seconds: 1.0004, RPS: 48302.8852,
			Latency: Latency{P50: 0.1, P90: 0.1, P99: 0.3, Mean: 0.1, Max: 7.2}}},
		{"hey_errors.txt", Result{Requests: 20, Errors: 20, Seconds: 0.0012, RPS: 17032.0466}},
	} {
		got, err := ParseHey(sample(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		tc.want.Tool = "hey"
		checkResult(t, tc.file, got, tc.want)
	}
	if _, err := ParseHey("Error: bad flag"); !errors.Is(err, ErrNoSummary) {
		t.Errorf("garbage: err = %v", err)
	}
}

func checkResult(t *testing.T, name string, got, want Result) {
	t.Helper()
	if got.Tool != want.Tool || got.Requests != want.Requests || got.Errors != want.Errors || got.Socket != want.Socket ||
		got.Slow != want.Slow || got.SlowOverMS != want.SlowOverMS ||
		got.Non2xx != want.Non2xx || !near(got.Seconds, want.Seconds) || !near(got.RPS, want.RPS) {
		t.Errorf("%s: got %+v\nwant %+v", name, got, want)
	}
	// wrk prints sizes with two decimals: allow their rounding.
	if math.Abs(float64(got.Bytes-want.Bytes)) > 0.01*float64(want.Bytes)+1 ||
		math.Abs(got.BytesPerSec-want.BytesPerSec) > 0.01*want.BytesPerSec+1 {
		t.Errorf("%s: bytes %d (%.0f/s), want %d (%.0f/s)", name, got.Bytes, got.BytesPerSec, want.Bytes, want.BytesPerSec)
	}
	if !near(got.Latency.P50, want.Latency.P50) || !near(got.Latency.P90, want.Latency.P90) ||
		!near(got.Latency.P99, want.Latency.P99) || !near(got.Latency.P999, want.Latency.P999) ||
		!near(got.Latency.Mean, want.Latency.Mean) || !near(got.Latency.Max, want.Latency.Max) {
		t.Errorf("%s: latency %+v, want %+v", name, got.Latency, want.Latency)
	}
}

// heySecs keeps hey's figures exactly: no rounding through time.Duration.
func TestHeySecs(t *testing.T) {
	for in, want := range map[string]float64{"0.0038 secs": 0.0038, "1.5e-10": 1.5e-10, "NaN secs": 0, "x": 0} {
		if got := heySecs(in); got != want {
			t.Errorf("heySecs(%q) = %v, want %v", in, got, want)
		}
	}
}
