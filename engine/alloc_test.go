//go:build !race

package engine

import "testing"

// TestProxyZeroAllocs: a proxied keep-alive round trip allocates nothing in
// steady state, in the client, the engine and the demo backend together.
func TestProxyZeroAllocs(t *testing.T) {
	s, _ := proxyToDemo(t, 1, Config{Loops: 1, ConnsPerBackend: 1})
	rt := newRoundTripper(t, s.Addr())
	for range 100 {
		rt.do(t) // warm the pools and buffers
	}
	if n := testing.AllocsPerRun(2000, func() { rt.do(t) }); n != 0 {
		t.Fatalf("%v allocations per proxied request, want 0", n)
	}
}
