//go:build !race

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProxyZeroAllocsWithOps: with the metrics counting and the access log
// writing every request (to a file, from its goroutine), a proxied
// keep-alive round trip still allocates nothing in steady state.
func TestProxyZeroAllocsWithOps(t *testing.T) {
	for _, format := range []AccessLogFormat{AccessLogJSON, AccessLogCommon} {
		f, err := os.Create(filepath.Join(t.TempDir(), "access.log"))
		if err != nil {
			t.Fatal(err)
		}
		alog := NewAccessLog(f, format, nil)
		s, _ := proxyToDemo(t, 1, Config{Loops: 1, ConnsPerBackend: 1,
			Operations: Operations{Metrics: true, AccessLog: alog}})
		rt := newRoundTripper(t, s.Addr())
		for range ringSize + 100 {
			rt.do(t) // warm the pools, the buffers and every slot of the ring
		}
		if n := testing.AllocsPerRun(2000, func() { rt.do(t) }); n != 0 {
			t.Errorf("format %d: %v allocations per proxied request, want 0", format, n)
		}
		alog.Close()
		f.Close()
		if lines, dropped := alog.Counts(); lines == 0 || dropped != 0 {
			t.Errorf("format %d: %d lines written, %d dropped", format, lines, dropped)
		}
	}
}
