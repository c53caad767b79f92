package proxyproto

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzParse checks, for any input: no panic; n within the input; a header
// accepted is accepted alone and each of its strict prefixes asks for
// more; an accepted v1 header with addresses says them in canonical form
// (so it reads one way only); and a v2 header's addresses match its bytes.
func FuzzParse(f *testing.F) {
	for _, c := range validCases {
		f.Add(c.in)
	}
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"))
	f.Add([]byte("PROXY TCP6 1::2::3 ::1 1 2\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0f\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02\xea\x00\x10"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Header
		n, err := Parse(data, &h)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("n, err = %d, %v for %d bytes", n, err, len(data))
		}
		if err != nil {
			return
		}
		var again Header
		if n2, err2 := Parse(data[:n], &again); n2 != n || err2 != nil || again != h {
			t.Fatalf("the header alone: %d, %v, %+v; with what follows: %d, %+v", n2, err2, again, n, h)
		}
		for _, k := range []int{0, n / 2, n - 1} {
			if _, err := Parse(data[:k], &again); err != ErrNeedMore {
				t.Fatalf("strict prefix %d of a %d-byte header: %v", k, n, err)
			}
		}
		if h.Local {
			return
		}
		if !h.Source.IsValid() || !h.Dest.IsValid() {
			t.Fatalf("a proxied header without addresses: %+v", h)
		}
		if h.Version == 1 {
			// Canonical text: re-parsing the strings netip prints gives
			// the same addresses.
			for _, ap := range []netip.AddrPort{h.Source, h.Dest} {
				if back, err := netip.ParseAddrPort(ap.String()); err != nil || back != ap {
					t.Fatalf("%v does not round-trip: %v %v", ap, back, err)
				}
			}
			return
		}
		body := data[v2HeadLen:n]
		if h.Source.Addr().Is4() {
			s := h.Source.Addr().As4()
			if !bytes.Equal(s[:], body[:4]) {
				t.Fatalf("source %v, bytes %x", h.Source, body[:4])
			}
		} else {
			s := h.Source.Addr().As16()
			if !bytes.Equal(s[:], body[:16]) {
				t.Fatalf("source %v, bytes %x", h.Source, body[:16])
			}
		}
	})
}

// FuzzParseAddr compares the address parsers with netip.ParseAddr.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"::", "1::2", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1.2.3.4", "01.2.3.4", "1::2::3", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkIPv4(t, s)
		checkIPv6(t, s)
	})
}
