package httpparse

import (
	"encoding/binary"
	"math/bits"
)

// Byte classes, one bit each in charClass. A lookup is one load from a
// 256-byte table, indexed by a byte so the compiler drops the bounds check.
const (
	// clsToken marks tchar (RFC 9110 §5.6.2): the bytes of a method, a
	// field name, a transfer coding or a chunk extension name.
	clsToken = 1 << iota
	// clsValue marks the bytes allowed inside a field value or reason
	// phrase: field-vchar, SP and HTAB (RFC 9110 §5.5), where field-vchar
	// includes obs-text 0x80-0xff. NUL, CR, LF, the other CTLs and DEL are
	// out.
	clsValue
	// clsTarget marks the bytes PILB accepts in a request-target: visible
	// US-ASCII 0x21-0x7e. RFC 9112 §3.2 builds targets from URI characters
	// (RFC 3986 §2), which never include CTLs, SP, DEL or obs-text; the few
	// visible non-URI bytes ('"', '<', '{', '|', ...) are let through
	// because browsers send them unencoded in query strings.
	clsTarget
	// clsQdtext marks qdtext (RFC 9110 §5.6.4): the bytes of a
	// quoted-string other than DQUOTE and backslash.
	clsQdtext
	// clsQuotedPair marks the bytes that may follow a backslash in a
	// quoted-pair (RFC 9110 §5.6.4): HTAB, SP, VCHAR, obs-text.
	clsQuotedPair
	// clsAlnum marks ASCII letters and digits: the tchars that survive
	// when a field name is read with its separators dropped (lookalike.go).
	clsAlnum
	// clsRegName marks the bytes of a reg-name other than pct-encoded:
	// unreserved and sub-delims (RFC 3986 §3.2.2, §2.2, §2.3). An
	// authority made only of them (and ':' before the port) holds no
	// delimiter that could make its host read differently ('@', '/', '?',
	// '#', '[', ']').
	clsRegName
)

// charClass holds the clsXxx bits of every byte.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		var bits uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			bits |= clsToken | clsAlnum
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			bits |= clsToken
		}
		if c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f) {
			bits |= clsValue | clsQuotedPair
			if c != '"' && c != '\\' {
				bits |= clsQdtext
			}
		}
		if c >= 0x21 && c <= 0x7e {
			bits |= clsTarget
		}
		if bits&clsAlnum != 0 {
			bits |= clsRegName
		}
		switch c {
		case '-', '.', '_', '~', // unreserved
			'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=': // sub-delims
			bits |= clsRegName
		}
		t[c] = bits
	}
	return t
}()

// lowerASCII maps 'A'-'Z' to 'a'-'z' and every other byte to itself.
var lowerASCII = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

// noHex marks a byte that is not a hex digit in unhex.
const noHex = 0xff

// unhex maps a HEXDIG (RFC 5234 §B.1, either case) to its value and every
// other byte to noHex.
var unhex = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = noHex
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		}
	}
	return t
}()

// SWAR (SIMD within a register) constants: ones has 0x01 in every byte,
// highs 0x80 in every byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// ctlMask8 returns a word with the high bit set in each byte of the
// little-endian word x that is not a plain field-value byte: below 0x20
// (CTLs, HTAB, CR, LF) or DEL. Bytes >= 0x80 (obs-text) are plain. It uses
// the "has less than" and "has zero byte" bit tricks: a borrow can set
// bits above a flagged byte, never below, so the lowest set bit marks
// exactly the first non-plain byte.
func ctlMask8(x uint64) uint64 {
	lt := (x - ones*0x20) &^ x
	d := x ^ (ones * 0x7f)
	del := (d - ones) &^ d
	return (lt | del) & highs
}

// nonTargetMask8 is ctlMask8 for request-target bytes: it flags every byte
// outside 0x21-0x7e, so SP, CTLs, DEL and bytes >= 0x80.
func nonTargetMask8(x uint64) uint64 {
	lt := (x - ones*0x21) &^ x
	d := x ^ (ones * 0x7f)
	del := (d - ones) &^ d
	return (lt | del | x) & highs
}

// valueEnd returns the index of the first byte at or after b[i] that is
// not a field-value byte (RFC 9110 §5.5: field-vchar, obs-text, SP,
// HTAB), or len(b). It checks sixteen bytes a step while they are all
// plain and jumps straight to the first non-plain one.
func valueEnd(b []byte, i int) int {
	for {
		var m uint64
		switch {
		case i+16 <= len(b):
			w := b[i : i+16 : i+16]
			mx := ctlMask8(binary.LittleEndian.Uint64(w[:8]))
			my := ctlMask8(binary.LittleEndian.Uint64(w[8:]))
			if mx|my == 0 {
				i += 16
				continue
			}
			if mx == 0 {
				i += 8
				mx = my
			}
			m = mx
		case i+8 <= len(b):
			m = ctlMask8(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
		default:
			for i < len(b) && charClass[b[i]]&clsValue != 0 {
				i++
			}
			return i
		}
		i += bits.TrailingZeros64(m) >> 3
		if b[i] != '\t' {
			return i
		}
		i++
	}
}

// targetEnd returns the index of the first byte at or after b[i] that is
// not a request-target byte (clsTarget), or len(b), eight bytes a step.
func targetEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := nonTargetMask8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && charClass[b[i]]&clsTarget != 0 {
		i++
	}
	return i
}

// tokenEnd returns the index of the first byte at or after b[i] that is
// not a tchar, or len(b). Eight table lookups are ANDed for one branch
// per eight bytes, then it goes one byte at a time.
func tokenEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		w := b[i : i+8 : i+8]
		if charClass[w[0]]&charClass[w[1]]&charClass[w[2]]&charClass[w[3]]&
			charClass[w[4]]&charClass[w[5]]&charClass[w[6]]&charClass[w[7]]&clsToken == 0 {
			break
		}
		i += 8
	}
	for i < len(b) && charClass[b[i]]&clsToken != 0 {
		i++
	}
	return i
}
