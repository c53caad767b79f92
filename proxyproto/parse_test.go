package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a v2 header: version/command byte, family/transport byte, and
// the body after the length, whose length it writes.
func v2(verCmd, famTrans byte, body ...[]byte) []byte {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	h := []byte(v2Sig)
	h = append(h, verCmd, famTrans)
	h = binary.BigEndian.AppendUint16(h, uint16(len(b)))
	return append(h, b...)
}

func inet4(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func inet6(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func tlv(typ byte, v string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

type validCase struct {
	name  string
	in    []byte
	local bool
	src   string // netip.AddrPort text; "" when local
	dst   string
}

var validCases = []validCase{
	{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"), false, "192.0.2.1:56324", "198.51.100.7:443"},
	{"v1 tcp4 zero octets and ports", []byte("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"), false, "0.0.0.0:0", "255.255.255.255:65535"},
	{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2:1 56324 443\r\n"), false, "[2001:db8::1]:56324", "[2001:db8::2:1]:443"},
	{"v1 tcp6 full form", []byte("PROXY TCP6 2001:0db8:0000:0000:0000:0000:0000:0001 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 1 2\r\n"), false, "[2001:db8::1]:1", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:2"},
	{"v1 tcp6 mapped", []byte("PROXY TCP6 ::ffff:192.0.2.1 :: 80 8080\r\n"), false, "[::ffff:192.0.2.1]:80", "[::]:8080"},
	{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), true, "", ""},
	{"v1 unknown with junk", []byte("PROXY UNKNOWN ffff::1 whatever 1 2\r\n"), true, "", ""},
	{"v2 proxy inet", v2(0x21, 0x11, inet4("192.0.2.1", "198.51.100.7", 56324, 443)), false, "192.0.2.1:56324", "198.51.100.7:443"},
	{"v2 proxy inet6", v2(0x21, 0x21, inet6("2001:db8::1", "2001:db8::2", 56324, 443)), false, "[2001:db8::1]:56324", "[2001:db8::2]:443"},
	{"v2 proxy inet with AWS TLV", v2(0x21, 0x11, inet4("10.0.0.9", "10.0.1.2", 40000, 80), tlv(0xEA, "\x01vpce-08d2bf15fac5001c9")), false, "10.0.0.9:40000", "10.0.1.2:80"},
	{"v2 proxy inet with empty TLV", v2(0x21, 0x11, inet4("10.0.0.9", "10.0.1.2", 40000, 80), tlv(0x04, "")), false, "10.0.0.9:40000", "10.0.1.2:80"},
	{"v2 proxy inet unspec transport", v2(0x21, 0x10, inet4("10.0.0.9", "10.0.1.2", 1, 2)), false, "10.0.0.9:1", "10.0.1.2:2"},
	{"v2 local", v2(0x20, 0x00), true, "", ""},
	{"v2 local with addresses", v2(0x20, 0x11, inet4("10.0.0.9", "10.0.1.2", 1, 2)), true, "", ""},
	{"v2 proxy unspec", v2(0x21, 0x00), true, "", ""},
	{"v2 proxy unix", v2(0x21, 0x31, make([]byte, lenUnix)), true, "", ""},
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases {
		t.Run(c.name, func(t *testing.T) {
			// What follows the header (the HTTP request) is not taken.
			buf := append(append([]byte{}, c.in...), "GET / HTTP/1.1\r\n"...)
			var h Header
			n, err := Parse(buf, &h)
			if err != nil || n != len(c.in) {
				t.Fatalf("n, err = %d, %v; want %d, nil", n, err, len(c.in))
			}
			wantVersion := 1
			if c.in[0] == '\r' {
				wantVersion = 2
			}
			if h.Version != wantVersion || h.Local != c.local {
				t.Fatalf("version %d local %v", h.Version, h.Local)
			}
			if c.local {
				if h.Source.IsValid() || h.Dest.IsValid() {
					t.Fatalf("local header with addresses %v %v", h.Source, h.Dest)
				}
				return
			}
			if h.Source.String() != c.src || h.Dest.String() != c.dst {
				t.Fatalf("src %v dst %v; want %s %s", h.Source, h.Dest, c.src, c.dst)
			}
		})
	}
}

// TestParsePrefixes feeds every strict prefix of every valid header: each
// must be ErrNeedMore, never a verdict on incomplete bytes.
func TestParsePrefixes(t *testing.T) {
	for _, c := range validCases {
		for k := range len(c.in) {
			var h Header
			if n, err := Parse(c.in[:k], &h); err != ErrNeedMore || n != 0 {
				t.Errorf("%s: prefix %d: n, err = %d, %v; want ErrNeedMore", c.name, k, n, err)
			}
		}
	}
}

// TestParseBad: every hostile or broken header is refused with the right
// error; the legitimate twin of each case is among validCases or beside
// it here.
func TestParseBad(t *testing.T) {
	inet := inet4("10.0.0.1", "10.0.0.2", 1, 2)
	long := "PROXY TCP6 " + strings.Repeat("f", 120) + "\r\n"
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		// Not the PROXY protocol at all: a client that skipped the balancer.
		{"http request", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ErrNotProxy},
		{"lower case", []byte("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrNotProxy},
		{"PROXY method", []byte("PROXYGET / HTTP/1.1\r\n"), ErrNotProxy},
		{"v2 signature broken", []byte("\r\n\r\n\x00\r\nQUIZ\n\x21\x11\x00\x0c"), ErrNotProxy},
		{"TLS hello", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), ErrNotProxy},

		// v1.
		{"v1 bare LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ErrMalformed},
		{"v1 bare CR", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\r\n"), ErrMalformed},
		{"v1 unknown protocol", []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 unknown protocol early", []byte("PROXY XYZ"), ErrMalformed},
		{"v1 tcp4 with ipv6", []byte("PROXY TCP4 ::1 ::2 1 2\r\n"), ErrMalformed},
		{"v1 tcp6 with ipv4", []byte("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 two spaces", []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 trailing space", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), ErrMalformed},
		{"v1 missing port", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), ErrMalformed},
		{"v1 extra field", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ErrMalformed},
		{"v1 port too big", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), ErrMalformed},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), ErrMalformed},
		{"v1 port sign", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"), ErrMalformed},
		{"v1 octet leading zero", []byte("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 octet too big", []byte("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 three octets", []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 five octets", []byte("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 two ellipses", []byte("PROXY TCP6 1::2::3 ::1 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 nine groups", []byte("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 seven groups", []byte("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 five digits", []byte("PROXY TCP6 12345:: ::1 1 2\r\n"), ErrMalformed},
		{"v1 ipv6 NUL", []byte("PROXY TCP6 ::1\x00 ::1 1 2\r\n"), ErrMalformed},
		{"v1 no CRLF in 107 bytes", []byte(long), ErrTooLong},

		// v2.
		{"v2 version 1", v2(0x11, 0x11, inet), ErrMalformed},
		{"v2 version 3", v2(0x31, 0x11, inet), ErrMalformed},
		{"v2 command 2", v2(0x22, 0x11, inet), ErrMalformed},
		{"v2 family 4", v2(0x21, 0x41, inet), ErrMalformed},
		{"v2 transport 3", v2(0x21, 0x13, inet), ErrMalformed},
		{"v2 datagram", v2(0x21, 0x12, inet), ErrMalformed},
		{"v2 length short of inet", v2(0x21, 0x11, inet[:11]), ErrMalformed},
		{"v2 length short of inet6", v2(0x21, 0x21, inet), ErrMalformed},
		{"v2 TLV overruns", v2(0x21, 0x11, inet, []byte{0xEA, 0x00, 0x10, 'x'}), ErrMalformed},
		{"v2 TLV cut", v2(0x21, 0x11, inet, []byte{0xEA, 0x00}), ErrMalformed},
		{"v2 too long", v2(0x21, 0x11, inet, tlv(0xEA, strings.Repeat("x", MaxV2Len))), ErrTooLong},
	}
	for _, c := range cases {
		var h Header
		if n, err := Parse(c.in, &h); err != c.want || n != 0 {
			t.Errorf("%s: n, err = %d, %v; want %v", c.name, n, err, c.want)
		}
	}
}

// TestParseV2LengthAnnouncedBeyondBuffer: a v2 header that announces more
// than has arrived waits for it (up to MaxV2Len), however hostile the
// announced length.
func TestParseV2LengthAnnouncedBeyondBuffer(t *testing.T) {
	h := []byte(v2Sig + "\x21\x11")
	h = binary.BigEndian.AppendUint16(h, MaxV2Len-v2HeadLen)
	h = append(h, inet4("10.0.0.1", "10.0.0.2", 1, 2)...)
	var hd Header
	if _, err := Parse(h, &hd); err != ErrNeedMore {
		t.Fatalf("err %v, want ErrNeedMore", err)
	}
	h = append(h, make([]byte, MaxV2Len-len(h))...) // zero TLV bytes: type 0, length 0
	if n, err := Parse(h, &hd); err != ErrMalformed && (err != nil || n != MaxV2Len) {
		t.Fatalf("n, err = %d, %v", n, err)
	}
}

func TestParseIPv6AgainstNetip(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "1::2", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "::ffff:1.2.3.4",
		"::1.2.3.4", "1::1.2.3.4", "a:b:c:d:e:f:0:1", "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789",
		"1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1", "1:",
		":::", "1:::2", "1::2::3", "1:2:3:4:5:6::1.2.3.4", "1:2:3:4:5:1.2.3.4", "::1.2.3", "::01.2.3.4",
		"fe80::1%eth0", "", "1.2.3.4", "g::", "12345::", "0:0:0:0:0:0:0:0", "1:2:3:4:5:6:7:8::",
	} {
		checkIPv6(t, s)
	}
}

// checkIPv6 compares parseIPv6 with netip.ParseAddr, which is the
// reference for everything but zones (refused here).
func checkIPv6(t *testing.T, s string) {
	t.Helper()
	got, ok := parseIPv6([]byte(s))
	want, err := netip.ParseAddr(s)
	wantOK := err == nil && want.Is6() && want.Zone() == ""
	if ok != wantOK || (ok && got != want) {
		t.Errorf("parseIPv6(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
	}
}

func checkIPv4(t *testing.T, s string) {
	t.Helper()
	got, ok := parseIPv4([]byte(s))
	want, err := netip.ParseAddr(s)
	wantOK := err == nil && want.Is4()
	if ok != wantOK || (ok && got != want) {
		t.Errorf("parseIPv4(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
	}
}

func TestParseIPv4AgainstNetip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "1.2.3.4", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.", ".1.2.3",
		"01.2.3.4", "1..2.3", "1.2.3.4 ", "1234.1.1.1", "", "a.b.c.d", "1.2.3.-4"} {
		checkIPv4(t, s)
	}
}
