//go:build !race

package proxyproto

import "testing"

// TestParseZeroAllocs: parsing a header of either version, a bad one or a
// partial one allocates nothing.
func TestParseZeroAllocs(t *testing.T) {
	bad := []byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n")
	for _, c := range validCases {
		var h Header
		if a := testing.AllocsPerRun(100, func() {
			if _, err := Parse(c.in, &h); err != nil {
				t.Fatal(err)
			}
			_, _ = Parse(c.in[:len(c.in)-1], &h)
			_, _ = Parse(bad, &h)
		}); a != 0 {
			t.Errorf("%s: %v allocations per parse", c.name, a)
		}
	}
}
