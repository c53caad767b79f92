package proxyproto

import (
	"encoding/binary"
	"net/netip"
)

const (
	// MaxV1Len is the longest v1 header, CRLF included: the specification's
	// bound ("PROXY TCP6" and two full IPv6 addresses and ports is 104).
	MaxV1Len = 107

	// MaxV2Len bounds a v2 header, signature included. The addresses take
	// at most 216 bytes (AF_UNIX); the rest is TLVs, of which a load
	// balancer sends a few (an AWS NLB sends the VPC endpoint id, 0xEA).
	// 4 KiB is far above any of them, and low enough that a peer cannot
	// make PILB buffer much before it is refused.
	MaxV2Len = 4096

	// v2HeadLen is the fixed part of a v2 header: signature, version and
	// command, family and transport, length.
	v2HeadLen = 16
)

// v1Sig and v2Sig start a v1 and a v2 header.
const (
	v1Sig = "PROXY "
	v2Sig = "\r\n\r\n\x00\r\nQUIT\n"
)

// Header is what a PROXY protocol header says about the connection it
// precedes.
type Header struct {
	// Version is 1 or 2.
	Version int
	// Local is true when the header carries no client address to use: a
	// v2 LOCAL command (a health check of the load balancer itself), a
	// v1 UNKNOWN line, or a v2 family other than IPv4 and IPv6. The
	// connection's own addresses apply then.
	Local bool
	// Source and Dest are the client's address and the address it
	// connected to, as the load balancer saw them; zero when Local.
	Source, Dest netip.AddrPort
}

// Parse reads a PROXY protocol header, of either version, from the start
// of buf into h, and returns its length in bytes. It returns ErrNeedMore
// when buf is a strict prefix of a header, ErrNotProxy when buf does not
// start one, ErrMalformed or ErrTooLong for a bad one; h is unspecified
// after an error. Parse keeps no reference to buf.
func Parse(buf []byte, h *Header) (int, error) {
	*h = Header{}
	switch {
	case len(buf) == 0:
		return 0, ErrNeedMore
	case buf[0] == v2Sig[0]:
		return parseV2(buf, h)
	case buf[0] == v1Sig[0]:
		return parseV1(buf, h)
	}
	return 0, ErrNotProxy
}

// matchSig reports whether buf starts with sig (full), or is a strict
// prefix of it (partial).
func matchSig(buf []byte, sig string) (full, partial bool) {
	n := min(len(buf), len(sig))
	if string(buf[:n]) != sig[:n] {
		return false, false
	}
	return n == len(sig), n < len(sig)
}

// parseV1 reads "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN...\r\n".
func parseV1(buf []byte, h *Header) (int, error) {
	full, partial := matchSig(buf, v1Sig)
	if partial {
		return 0, ErrNeedMore
	}
	if !full {
		return 0, ErrNotProxy
	}
	end := -1
	for i := len(v1Sig); i < len(buf) && i < MaxV1Len; i++ {
		c := buf[i]
		if c == '\n' {
			if buf[i-1] != '\r' {
				return 0, ErrMalformed // a bare LF
			}
			end = i - 1
			break
		}
		if c == '\r' && i+1 < len(buf) && buf[i+1] != '\n' {
			return 0, ErrMalformed // a bare CR
		}
	}
	if end < 0 {
		if len(buf) >= MaxV1Len {
			return 0, ErrTooLong
		}
		if !v1ProtoPrefix(buf[len(v1Sig):]) {
			return 0, ErrMalformed // refused now rather than at 107 bytes
		}
		return 0, ErrNeedMore
	}
	n := end + 2
	h.Version = 1
	line := buf[len(v1Sig):end]
	proto, line := field(line)
	switch string(proto) {
	case "UNKNOWN":
		// The rest of the line is to be ignored (the sender does not know
		// the addresses): only the CRLF matters.
		h.Local = true
		return n, nil
	case "TCP4", "TCP6":
	default:
		return 0, ErrMalformed
	}
	src, line := field(line)
	dst, line := field(line)
	sport, line := field(line)
	dport, rest := field(line)
	if rest != nil {
		return 0, ErrMalformed // a fifth field, or a trailing space
	}
	var sa, da netip.Addr
	var ok1, ok2 bool
	if proto[3] == '4' {
		sa, ok1 = parseIPv4(src)
		da, ok2 = parseIPv4(dst)
	} else {
		sa, ok1 = parseIPv6(src)
		da, ok2 = parseIPv6(dst)
	}
	sp, ok3 := parsePort(sport)
	dp, ok4 := parsePort(dport)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, ErrMalformed
	}
	h.Source = netip.AddrPortFrom(sa, sp)
	h.Dest = netip.AddrPortFrom(da, dp)
	return n, nil
}

// v1ProtoPrefix reports whether b, the start of a v1 line after "PROXY ",
// may still begin with one of the protocols.
func v1ProtoPrefix(b []byte) bool {
	for _, p := range [...]string{"TCP4 ", "TCP6 ", "UNKNOWN"} {
		n := min(len(b), len(p))
		if string(b[:n]) == p[:n] {
			return true
		}
	}
	return false
}

// field splits b at its first space: the field before it and the rest
// after it; rest is nil when b has no space. An empty field (two spaces,
// a leading one) comes back empty, which no parser below accepts.
func field(b []byte) (f, rest []byte) {
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// parsePort reads a decimal port, 0 to 65535, without leading zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseIPv4 reads a dotted-quad IPv4 address; an octet with a leading
// zero is refused, since some readers take it for octal.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, v := i, 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 3 {
			v = v*10 + int(b[i]-'0')
			i++
		}
		digits := i - start
		if digits == 0 || v > 255 || (digits > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		a[k] = byte(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(a), true
}

// parseIPv6 reads an IPv6 address in RFC 4291 §2.2 text form: eight
// groups of one to four hex digits, at most one "::" for a run of zero
// groups, and optionally an IPv4 address in place of the last two groups.
// Zones are refused: they mean nothing off the host.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var a [16]byte
	ellipsis := -1 // the group index where "::" stands
	i, g := 0, 0   // position in b, groups written
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		i = 2
		if i == len(b) {
			return netip.AddrFrom16(a), true // "::"
		}
	}
	for i < len(b) && g < 8 {
		start, v := i, 0
		for i < len(b) && i-start < 4 {
			d, ok := hexDigit(b[i])
			if !ok {
				break
			}
			v = v<<4 | d
			i++
		}
		if i == start {
			return netip.Addr{}, false
		}
		if i < len(b) && b[i] == '.' {
			// An embedded IPv4 address takes the last 32 bits.
			if (ellipsis < 0 && g != 6) || g > 6 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b[start:])
			if !ok {
				return netip.Addr{}, false
			}
			q := v4.As4()
			copy(a[2*g:], q[:])
			g += 2
			i = len(b)
			break
		}
		a[2*g] = byte(v >> 8)
		a[2*g+1] = byte(v)
		g++
		if i == len(b) {
			break
		}
		if b[i] != ':' || i+1 == len(b) {
			return netip.Addr{}, false // another character, more than 4 digits, or a trailing ':'
		}
		i++
		if b[i] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false // a second "::"
			}
			ellipsis = g
			i++
			if i == len(b) {
				break
			}
		}
	}
	if i != len(b) {
		return netip.Addr{}, false // more than eight groups
	}
	switch {
	case ellipsis < 0 && g != 8:
		return netip.Addr{}, false
	case ellipsis >= 0:
		if g == 8 {
			return netip.Addr{}, false // "::" must stand for at least one group
		}
		// Move the groups after "::" to the end; zeros fill the gap.
		n := 2 * (g - ellipsis)
		copy(a[16-n:], a[2*ellipsis:2*g])
		clear(a[2*ellipsis : 16-n])
	}
	return netip.AddrFrom16(a), true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// v2 command, family and transport values (proxy-protocol.txt §2.2).
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	transUnspec = 0x0
	transStream = 0x1

	lenInet  = 12  // two IPv4 addresses, two ports
	lenInet6 = 36  // two IPv6 addresses, two ports
	lenUnix  = 216 // two 108-byte paths
)

// parseV2 reads a binary header: the 12-byte signature, version 2 and a
// command, family and transport, a big-endian length, the addresses and
// TLVs.
func parseV2(buf []byte, h *Header) (int, error) {
	full, partial := matchSig(buf, v2Sig)
	if partial {
		return 0, ErrNeedMore
	}
	if !full {
		return 0, ErrNotProxy
	}
	if len(buf) < v2HeadLen {
		return 0, ErrNeedMore
	}
	verCmd, famTrans := buf[12], buf[13]
	if verCmd>>4 != 2 {
		return 0, ErrMalformed
	}
	n := v2HeadLen + int(binary.BigEndian.Uint16(buf[14:16]))
	if n > MaxV2Len {
		return 0, ErrTooLong
	}
	cmd, fam, trans := verCmd&0xf, famTrans>>4, famTrans&0xf
	if cmd != cmdLocal && cmd != cmdProxy || fam > famUnix || trans > 0x2 {
		return 0, ErrMalformed
	}
	addrLen := 0
	switch fam {
	case famInet:
		addrLen = lenInet
	case famInet6:
		addrLen = lenInet6
	case famUnix:
		addrLen = lenUnix
	}
	if n-v2HeadLen < addrLen {
		return 0, ErrMalformed // the length does not cover the addresses
	}
	if len(buf) < n {
		return 0, ErrNeedMore
	}
	body := buf[v2HeadLen:n]
	if !validTLVs(body[addrLen:]) {
		return 0, ErrMalformed
	}
	h.Version = 2
	if cmd == cmdLocal || fam == famUnspec || fam == famUnix {
		// LOCAL: the load balancer speaking for itself. UNSPEC and UNIX:
		// nothing PILB can put in X-Forwarded-For. The connection's own
		// addresses apply (proxy-protocol.txt §2.2).
		h.Local = true
		return n, nil
	}
	if trans != transStream && trans != transUnspec {
		return 0, ErrMalformed // a datagram's addresses on a TCP connection
	}
	if fam == famInet {
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	} else {
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
	}
	return n, nil
}

// validTLVs reports whether b is a sequence of whole TLVs (a type byte, a
// big-endian 16-bit length, the value): a TLV that overruns the header
// would mean the header's length and its content disagree. Their content
// is not used.
func validTLVs(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 3 {
			return false
		}
		l := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if l > len(b) {
			return false
		}
		b = b[l:]
	}
	return true
}
