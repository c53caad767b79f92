package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pilb-proxy/pilb/pool"
)

// The operations benchmarks: the keep-alive round trip of BenchmarkProxy
// with the metrics, the access log, or both on, beside the same round trip
// with both off (BenchmarkProxyOpsOff) in the same run. Besides ns/op they
// report cpu-ns/op, the CPU time of the whole process (client, proxy,
// backend, the access log's writer) per request: what turning a feature on
// costs is the difference with the baseline's. Compare with benchstat:
//
//	go test ./engine -run '^$' -bench 'ProxyOps|ProxyMetrics|ProxyAccessLog' -count 10 | tee ops.txt
//	benchstat -col /ops ops.txt   # or by name

func benchOps(b *testing.B, ops Operations) {
	s, _ := proxyToDemo(b, 1, Config{Loops: 1, ConnsPerBackend: 1, Operations: ops})
	rt := newRoundTripper(b, s.Addr())
	for range 1000 {
		rt.do(b)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		rt.do(b)
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the process's user and system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchAccessLog(b *testing.B, format AccessLogFormat, metrics bool) {
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	alog := NewAccessLog(f, format, nil)
	defer alog.Close()
	benchOps(b, Operations{Metrics: metrics, AccessLog: alog})
	if _, dropped := alog.Counts(); dropped > 0 {
		b.Logf("%d records dropped", dropped)
	}
}

// BenchmarkProxyOpsOff is the baseline: metrics and access log off.
func BenchmarkProxyOpsOff(b *testing.B) { benchOps(b, Operations{}) }

func BenchmarkProxyMetrics(b *testing.B) { benchOps(b, Operations{Metrics: true}) }

func BenchmarkProxyAccessLogJSON(b *testing.B) { benchAccessLog(b, AccessLogJSON, false) }

func BenchmarkProxyAccessLogCommon(b *testing.B) { benchAccessLog(b, AccessLogCommon, false) }

// BenchmarkProxyOpsAll is what cmd/pilb runs with -access-log: both on.
func BenchmarkProxyOpsAll(b *testing.B) { benchAccessLog(b, AccessLogJSON, true) }

// The record benchmarks isolate what PILB does per request for the metrics
// and the access log: on the loop, open the record at the head, count the
// bytes, close it (and queue the access log record); and the access log
// writer's formatting and writing of the line to a file. The writer's work
// is done in the benchmark's goroutine here (a drain every drainEvery
// records), so nothing is dropped and ns/op is the whole CPU cost of a
// request's line. BenchmarkRecordOff is the baseline, the same calls with
// both off.

const drainEvery = 256

func benchRecord(b *testing.B, ops Operations) {
	cfg := Config{Operations: ops}
	l := newLoop(&Server{cfg: cfg}, nil)
	req := []byte("GET /index.html?q=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n")
	n, err := parseRequestForTest(req, &l.req)
	if err != nil {
		b.Fatal(err)
	}
	be := &pool.Backend{ID: "s1", Addr: "10.0.0.1:80"}
	cl := &clientConn{l: l, ip: netip.MustParseAddr("192.0.2.1"), pool: pool.NewPool("", []*pool.Backend{be}, nil), tries: 1, minor: 1}
	a := ops.AccessLog
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		l.beginRequest(cl, &l.req, n)
		cl.x().rec.b = be
		cl.x().rec.status = 200
		l.countOut(cl, 180)
		l.endRequest(cl)
		if i++; a != nil && i%drainEvery == 0 {
			a.drainAll()
			a.flush()
		}
	}
	if a != nil {
		a.drainAll()
		a.flush()
		if lines, dropped := a.Counts(); dropped > 0 || lines == 0 {
			b.Fatalf("%d lines, %d dropped", lines, dropped)
		}
	}
}

func benchRecordLog(b *testing.B, format AccessLogFormat, metrics bool) {
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchRecord(b, Operations{Metrics: metrics, AccessLog: newAccessLog(f, format, nil)})
}

// BenchmarkRecordOff is the baseline: metrics and access log off.
func BenchmarkRecordOff(b *testing.B)             { benchRecord(b, Operations{}) }
func BenchmarkRecordMetrics(b *testing.B)         { benchRecord(b, Operations{Metrics: true}) }
func BenchmarkRecordAccessLogJSON(b *testing.B)   { benchRecordLog(b, AccessLogJSON, false) }
func BenchmarkRecordAccessLogCommon(b *testing.B) { benchRecordLog(b, AccessLogCommon, false) }
