package httpparse

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
)

// charClass holds the clsXxx bits of every byte.
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		var bits uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			bits |= clsToken
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

// plainValue8 reports whether all eight bytes of the little-endian word x
// are plain field-value bytes: none below 0x20 (CTLs, HTAB, CR, LF) and
// none equal to DEL. Bytes >= 0x80 (obs-text) pass. It uses the classic
// "has less than" and "has zero byte" bit tricks, which have no false
// negatives and, used as a whole-word test, no false positives.
func plainValue8(x uint64) bool {
	lt := (x - ones*0x20) &^ x
	d := x ^ (ones * 0x7f)
	del := (d - ones) &^ d
	return (lt|del)&highs == 0
}

// plainTarget8 reports whether all eight bytes of x are clsTarget bytes
// (0x21-0x7e), with the same tricks as plainValue8.
func plainTarget8(x uint64) bool {
	lt := (x - ones*0x21) &^ x
	d := x ^ (ones * 0x7f)
	del := (d - ones) &^ d
	return (lt|del|x)&highs == 0
}
