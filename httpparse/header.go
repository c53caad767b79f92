package httpparse

// EqualFoldASCII reports whether b equals lower when ASCII letters are
// compared case-insensitively, as field names and most protocol tokens are
// (RFC 9110 §5.1). lower must be all lower case: it is compared as is.
// Bytes >= 0x80 compare exactly.
func EqualFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerASCII[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

// HasToken reports whether the comma-separated list value list (the
// #element syntax of RFC 9110 §5.6.1, as in Connection, Upgrade or
// Transfer-Encoding) has an element equal to tokenLower, compared
// case-insensitively. tokenLower must be lower case. Optional whitespace
// around elements and empty elements are ignored.
func HasToken(list []byte, tokenLower string) bool {
	for i := 0; i < len(list); {
		var e []byte
		e, i = nextElement(list, i)
		if EqualFoldASCII(e, tokenLower) {
			return true
		}
	}
	return false
}

// nextElement returns the list element of v that starts at i with the
// optional whitespace around it removed (RFC 9110 §5.6.1), and the index
// just past the comma that ends it (len(v) for the last one). An empty
// element is returned as an empty slice.
func nextElement(v []byte, i int) (elem []byte, next int) {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	s := i
	for i < len(v) && v[i] != ',' {
		i++
	}
	e := i
	for e > s && (v[e-1] == ' ' || v[e-1] == '\t') {
		e--
	}
	if i < len(v) {
		i++
	}
	return v[s:e], i
}

// lookupID returns the HeaderID of a field name, which must be a token.
// It switches on the length first so that most names are dismissed after
// one comparison of an int.
func lookupID(name []byte) HeaderID {
	switch len(name) {
	case 2:
		if EqualFoldASCII(name, "te") {
			return HdrTE
		}
	case 3:
		if EqualFoldASCII(name, "via") {
			return HdrVia
		}
	case 4:
		if EqualFoldASCII(name, "host") {
			return HdrHost
		}
	case 6:
		if EqualFoldASCII(name, "expect") {
			return HdrExpect
		}
	case 7:
		switch lowerASCII[name[0]] {
		case 'u':
			if EqualFoldASCII(name, "upgrade") {
				return HdrUpgrade
			}
		case 't':
			if EqualFoldASCII(name, "trailer") {
				return HdrTrailer
			}
		}
	case 10:
		switch lowerASCII[name[0]] {
		case 'c':
			if EqualFoldASCII(name, "connection") {
				return HdrConnection
			}
		case 'k':
			if EqualFoldASCII(name, "keep-alive") {
				return HdrKeepAlive
			}
		}
	case 14:
		if EqualFoldASCII(name, "content-length") {
			return HdrContentLength
		}
	case 15:
		if EqualFoldASCII(name, "x-forwarded-for") {
			return HdrXForwardedFor
		}
	case 16:
		if EqualFoldASCII(name, "proxy-connection") {
			return HdrProxyConnection
		}
	case 17:
		switch lowerASCII[name[0]] {
		case 't':
			if EqualFoldASCII(name, "transfer-encoding") {
				return HdrTransferEncoding
			}
		case 'x':
			if EqualFoldASCII(name, "x-forwarded-proto") {
				return HdrXForwardedProto
			}
		}
	case 18:
		if EqualFoldASCII(name, "proxy-authenticate") {
			return HdrProxyAuthenticate
		}
	case 19:
		if EqualFoldASCII(name, "proxy-authorization") {
			return HdrProxyAuthorization
		}
	}
	return HdrOther
}

// Connection option bits collected by connectionOptions.
const (
	connClose     = 1 << iota // "close" (RFC 9112 §9.6)
	connKeepAlive             // "keep-alive" (RFC 9112 §C.2.2)
	connUpgrade               // "upgrade" (RFC 9110 §7.8)
	connOther                 // any other option: a field name to drop (RFC 9110 §7.6.1)
)

// connectionOptions returns the connXxx bits of one Connection value.
func connectionOptions(v []byte) (bits uint8) {
	for i := 0; i < len(v); {
		var e []byte
		e, i = nextElement(v, i)
		switch {
		case len(e) == 0:
		case EqualFoldASCII(e, "close"):
			bits |= connClose
		case EqualFoldASCII(e, "keep-alive"):
			bits |= connKeepAlive
		case EqualFoldASCII(e, "upgrade"):
			bits |= connUpgrade
		default:
			bits |= connOther
		}
	}
	return bits
}

// fields is what a field section says about framing and connection
// management, collected in the same pass that splits it into Headers.
type fields struct {
	n     int    // field lines stored
	host  []byte // last Host value
	hosts int    // Host field lines

	clDigits []byte // digits of the first Content-Length value; nil if none
	cl       int64  // its value

	teLines    int  // Transfer-Encoding field lines
	teCodings  int  // non-empty transfer codings over all of them
	teChunked  int  // how many of those are "chunked"
	teEmpty    bool // an empty list element was seen
	teLastIsCh bool // the final coding is "chunked"

	conn      uint8 // connXxx bits over all Connection lines
	upgrade   bool  // an Upgrade field is present
	expect100 bool  // "Expect: 100-continue"
	lookAlike bool  // a HdrFramingLookAlike field is present
}

// parseFields splits the field lines that start at b[i] into hs and
// collects f, and returns the offset just past the empty line that ends
// the head. b[i-1] must be the LF of the start line. b may end anywhere:
// running out of bytes is ErrNeedMore. Errors are reported for the first
// bad byte in order, a bad Content-Length at its line.
func parseFields(b []byte, i int, hs *[MaxHeaders]Header, maxHeaders int, f *fields) (end int, err error) {
	k := 0
	for {
		if i+1 >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i] == '\r' {
			// An empty line ends the head; a CR that does not end a line is
			// a bare CR (RFC 9112 §2.2).
			if b[i+1] != '\n' {
				return 0, ErrBadHeader
			}
			f.n = k
			return i + 2, nil
		}
		// field-name is a token directly followed by the colon: no
		// whitespace before it (RFC 9112 §5.1), and a line that starts
		// with SP or HTAB is obs-fold (RFC 9112 §5.2); both end the token
		// loop at once.
		ns := i
		i = tokenEnd(b, i)
		if i == len(b) {
			return 0, ErrNeedMore
		}
		if b[i] != ':' || i == ns {
			return 0, lineErr(b[i], ErrBadHeader)
		}
		name := b[ns:i]
		i++
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		vs := i
		i = valueEnd(b, i)
		if i+1 >= len(b) {
			if i < len(b) && b[i] != '\r' {
				return 0, lineErr(b[i], ErrBadHeader)
			}
			return 0, ErrNeedMore
		}
		// The value must end in CRLF: anything else here is NUL, a CTL,
		// DEL, a bare CR or a bare LF.
		if b[i] != '\r' || b[i+1] != '\n' {
			return 0, lineErr(b[i], ErrBadHeader)
		}
		ve := i
		for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
			ve--
		}
		i += 2
		if k == maxHeaders {
			return 0, ErrTooManyHeaders
		}
		v := b[vs:ve]
		id := lookupID(name)
		if id == HdrOther && len(name) >= minLookAlikeLen {
			id = lookAlike(name)
		}
		h := &hs[k]
		h.Name, h.Value, h.ID, h.Hop = name, v, id, false
		k++
		if id != HdrOther {
			if err := f.note(id, v); err != nil {
				return 0, err
			}
		}
	}
}

// lineErr is the error for byte c out of place in a line: a bare LF has
// its own error (RFC 9112 §2.2), anything else is err.
func lineErr(c byte, err error) error {
	if c == '\n' {
		return ErrBareLF
	}
	return err
}

// note records a field PILB acts on.
func (f *fields) note(id HeaderID, v []byte) error {
	switch id {
	case HdrHost:
		f.hosts++
		f.host = v
	case HdrContentLength:
		return f.contentLength(v)
	case HdrTransferEncoding:
		f.transferEncoding(v)
	case HdrConnection:
		f.conn |= connectionOptions(v)
	case HdrUpgrade:
		f.upgrade = true
	case HdrFramingLookAlike:
		f.lookAlike = true
	case HdrExpect:
		// RFC 9110 §10.1.1: the only expectation defined.
		if EqualFoldASCII(v, "100-continue") {
			f.expect100 = true
		}
	}
	return nil
}

// contentLength checks one Content-Length value. RFC 9110 §8.6:
// Content-Length = 1*DIGIT, no sign, space or hex. A list of identical
// values ("5, 5") and repeated lines with identical values are accepted as
// one value; anything else that differs is an error (RFC 9112 §6.3 rule
// 5). Identical means the same digits: "05" and "5" differ, as in net/http.
func (f *fields) contentLength(v []byte) error {
	i := 0
	for {
		s := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == s {
			return ErrBadContentLength
		}
		d := v[s:i]
		if f.clDigits == nil {
			var n int64
			for _, c := range d {
				x := int64(c - '0')
				if n > (1<<63-1-x)/10 {
					return ErrBadContentLength
				}
				n = n*10 + x
			}
			f.clDigits, f.cl = d, n
		} else if string(d) != string(f.clDigits) {
			return ErrBadContentLength
		}
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i == len(v) {
			return nil
		}
		if v[i] != ',' {
			return ErrBadContentLength
		}
		i++
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
	}
}

// transferEncoding records the codings of one Transfer-Encoding line
// (RFC 9112 §6.1). Parameters are not parsed: a coding with parameters is
// simply not "chunked".
func (f *fields) transferEncoding(v []byte) {
	f.teLines++
	if len(v) == 0 {
		f.teEmpty = true
	}
	for i := 0; i < len(v); {
		var e []byte
		e, i = nextElement(v, i)
		if len(e) == 0 {
			f.teEmpty = true
			continue
		}
		f.teCodings++
		f.teLastIsCh = EqualFoldASCII(e, "chunked")
		if f.teLastIsCh {
			f.teChunked++
		}
	}
}
