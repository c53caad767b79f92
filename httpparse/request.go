package httpparse

import "bytes"

// maxLeadingEmptyLines is how many CRLFs ParseRequest skips before the
// request-line. RFC 9112 §2.2 says a server SHOULD ignore at least one
// (clients that send an extra CRLF after a POST body); eight covers every
// such habit, while a peer that streams empty lines fails fast.
const maxLeadingEmptyLines = 8

// resolve returns the limits with defaults filled in.
func (l *Limits) resolve() (head, target, headers int) {
	head, target, headers = l.MaxHeadBytes, l.MaxTargetBytes, l.MaxHeaders
	if head <= 0 {
		head = DefaultMaxHeadBytes
	}
	if target <= 0 {
		target = DefaultMaxTargetBytes
	}
	if headers <= 0 || headers > MaxHeaders {
		headers = MaxHeaders
	}
	return head, target, headers
}

// ParseRequest parses the request head at the start of buf into r and
// returns its length n, which counts the empty lines skipped before the
// request-line (at most maxLeadingEmptyLines; RFC 9112 §2.2) and the final
// CRLF: buf[n:] is the body or the next request. On ErrNeedMore, r.Scanned
// remembers how far buf was checked; call again with the same bytes plus
// more. Every []byte in r is a sub-slice of buf, valid while buf is.
//
// A request with "Content-Length: 0" gets Body BodyLength and
// ContentLength 0; one with neither Content-Length nor Transfer-Encoding
// gets BodyNone and ContentLength -1. Transfer-Encoding must be exactly
// the single coding "chunked" in one field line: PILB forwards request
// bodies and decodes no other coding (RFC 9112 §6.1 lets a server answer
// 501 to a coding it does not understand).
func ParseRequest(buf []byte, r *Request) (n int, err error) {
	maxHead, maxTarget, maxHeaders := r.Limits.resolve()
	from := r.Scanned
	r.Scanned = 0

	start := 0
	for len(buf)-start >= 2 && buf[start] == '\r' && buf[start+1] == '\n' {
		if start == 2*maxLeadingEmptyLines {
			return 0, ErrBadRequestLine
		}
		start += 2
	}
	// Nothing past maxHead bytes is looked at: a head that has not ended
	// by then is too large, whatever follows.
	stop := len(buf)
	if stop-start > maxHead {
		stop = start + maxHead
	}
	if from < start || from > stop {
		from = start
	}
	line := buf[start:stop]

	sp1, sp2, cr, checked, err := scanRequestLine(line, from-start, maxTarget)
	if err == ErrNeedMore {
		if len(buf)-start >= maxHead {
			return 0, ErrHeadTooLarge
		}
		r.Scanned = start + checked
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	fs := start + cr + 2
	r.Method = line[:sp1]
	r.Target = line[sp1+1 : sp2]
	r.Version = line[sp2+1 : cr]
	r.Minor = int(r.Version[7] - '0')
	// Checked once the whole line is here, so that how its bytes were
	// split does not change the error.
	if err := checkTarget(r.Method, r.Target); err != nil {
		return 0, err
	}
	var f fields
	end, err := parseHead(buf[:stop], fs, from, &r.Headers, maxHeaders, &f)
	if err == ErrNeedMore {
		if len(buf)-start >= maxHead {
			return 0, ErrHeadTooLarge
		}
		r.Scanned = end
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	r.NumHeaders = f.n
	if err := f.requestErr(r.Minor); err != nil {
		return 0, err
	}

	r.Host = f.host
	if f.host != nil && r.Target[0] != '/' && !hostMatchesTarget(r.Target, f.host) {
		return 0, ErrHostMismatch
	}
	switch {
	case f.teLines > 0:
		r.Body, r.ContentLength = BodyChunked, -1
	case f.clDigits != nil:
		r.Body, r.ContentLength = BodyLength, f.cl
	default:
		r.Body, r.ContentLength = BodyNone, -1
	}
	// RFC 9112 §9.3: 1.1 is persistent unless "close"; 1.0 only with
	// "keep-alive".
	if r.Minor == 1 {
		r.KeepAlive = f.conn&connClose == 0
	} else {
		r.KeepAlive = f.conn&connKeepAlive != 0
	}
	r.Upgrade = f.upgrade && f.conn&connUpgrade != 0
	r.Expect100 = f.expect100
	markHop(r.Headers[:f.n], f.conn&connOther != 0)
	return end, nil
}

// requestErr checks what a request's field section as a whole must
// satisfy.
func (f *fields) requestErr(minor int) error {
	// A field a backend may read as framing that PILB does not: the
	// request cannot be forwarded safely whatever else it says
	// (lookalike.go).
	if f.lookAlike {
		return ErrFramingLookAlike
	}
	// RFC 9112 §3.2: exactly one Host in a 1.1 request, at most one in 1.0.
	if f.hosts > 1 {
		return ErrDuplicateHost
	}
	if f.hosts == 0 && minor == 1 {
		return ErrMissingHost
	}
	if f.teLines > 0 {
		// RFC 9112 §6.1: Transfer-Encoding in a 1.0 message means the
		// framing is faulty.
		if minor == 0 {
			return ErrTransferEncodingHTTP10
		}
		// RFC 9112 §6.3 rule 3: both is a smuggling attempt.
		if f.clDigits != nil {
			return ErrConflictingFraming
		}
		// RFC 9112 §6.3 rule 4 and §7: chunked must be the final coding,
		// applied once; PILB supports no other coding, and wants it in one
		// line without empty list elements, as net/http does, so that no
		// server behind it can read the framing differently.
		if f.teLines != 1 || f.teCodings != 1 || f.teChunked != 1 || f.teEmpty {
			return ErrUnsupportedTransferCoding
		}
	}
	return nil
}

// scanRequestLine checks the request-line at the start of b (RFC 9112 §3:
// method SP request-target SP HTTP-version CRLF) one byte at a time in
// order, so the first bad byte decides the error however the bytes were
// split across calls. b[:from] was checked by an earlier call that needed
// more. It returns the offsets of the two SPs and the CR; on ErrNeedMore,
// checked is how many bytes of b are known good.
func scanRequestLine(b []byte, from, maxTarget int) (sp1, sp2, cr, checked int, err error) {
	if from > 0 {
		if j := bytes.IndexByte(b[:from], '\n'); j > 0 {
			// The whole line was checked before: find its parts again,
			// and start over if they do not fit, as with a Scanned that
			// came from another buffer.
			cr = j - 1
			sp1 = bytes.IndexByte(b[:cr], ' ')
			if sp1 > 0 {
				sp2 = bytes.IndexByte(b[sp1+1:cr], ' ') + sp1 + 1
			}
			if sp1 > 0 && sp2 > sp1+1 && b[cr] == '\r' && checkVersion(b[sp2+1:cr], ErrBadRequestLine) == nil {
				return sp1, sp2, cr, 0, nil
			}
			from = 0
		}
	}
	i := from
	sp1, sp2 = -1, -1
	if from > 0 {
		sp1 = bytes.IndexByte(b[:from], ' ')
	}
	if sp1 < 0 {
		// method = token (RFC 9112 §3.1).
		for ; i < len(b); i++ {
			c := b[i]
			if charClass[c]&clsToken != 0 {
				continue
			}
			if c == ' ' && i > 0 {
				break
			}
			if c == '\n' {
				return 0, 0, 0, 0, ErrBareLF
			}
			if c == '\r' && i == 0 && len(b) == 1 {
				// Maybe the first half of an empty line to skip.
				return 0, 0, 0, 0, ErrNeedMore
			}
			return 0, 0, 0, 0, ErrBadRequestLine
		}
		if i == len(b) {
			return 0, 0, 0, i, ErrNeedMore
		}
		sp1 = i
		i++
	}
	ts := sp1 + 1
	if from > ts {
		if j := bytes.IndexByte(b[ts:from], ' '); j >= 0 {
			sp2 = ts + j
		}
	}
	if sp2 < 0 {
		i = max(i, ts)
		// request-target (RFC 9112 §3.2), checked for length as it goes so
		// that an endless target fails before its end arrives.
		// The length is checked once the end is known, and for an
		// incomplete target against what has come so far, so the first
		// byte past the limit is the error however the bytes were split.
		i = targetEnd(b, i)
		if i-ts > maxTarget {
			return 0, 0, 0, 0, ErrTargetTooLong
		}
		if i == len(b) {
			return 0, 0, 0, i, ErrNeedMore
		}
		if b[i] != ' ' || i == ts {
			return 0, 0, 0, 0, lineErr(b[i], ErrBadRequestLine)
		}
		sp2 = i
		i++
	}
	vs := sp2 + 1
	i = max(i, vs)
	// Nearly every request says exactly "HTTP/1.1" CRLF: one compare of
	// ten bytes instead of the loop below.
	if i == vs && len(b)-vs >= 10 {
		if v := string(b[vs : vs+10]); v == "HTTP/1.1\r\n" || v == "HTTP/1.0\r\n" {
			return sp1, sp2, vs + 8, 0, nil
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\r' {
			break
		}
		if c == '\n' {
			return 0, 0, 0, 0, ErrBareLF
		}
		if i-vs >= len("HTTP/1.1") {
			return 0, 0, 0, 0, ErrBadRequestLine
		}
	}
	if i+1 >= len(b) {
		// Keep the CR unchecked: the byte after it decides.
		return 0, 0, 0, i, ErrNeedMore
	}
	if b[i+1] != '\n' {
		return 0, 0, 0, 0, ErrBadRequestLine
	}
	if err := checkVersion(b[vs:i], ErrBadRequestLine); err != nil {
		return 0, 0, 0, 0, err
	}
	return sp1, sp2, i, 0, nil
}

// checkVersion checks a request's HTTP-version (RFC 9112 §2.3:
// "HTTP/" DIGIT "." DIGIT, case-sensitive). HTTP/1.0 and HTTP/1.1 pass;
// another well-formed version, or the "HTTP/2" and "HTTP/3" spellings, is
// ErrUnsupportedVersion (505); anything else is bad.
func checkVersion(v []byte, bad error) error {
	if len(v) == 8 && string(v[:7]) == "HTTP/1." && (v[7] == '0' || v[7] == '1') {
		return nil
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(v) >= 6 && string(v[:5]) == "HTTP/" && digit(v[5]) &&
		(len(v) == 6 || len(v) == 8 && v[6] == '.' && digit(v[7])) {
		return ErrUnsupportedVersion
	}
	return bad
}

// parseHead parses the field lines that start at buf[fs] (buf[fs-1] is
// the LF of the start line), resuming at from after an ErrNeedMore, and
// returns the offset just past the head, or on ErrNeedMore where to resume.
//
// The errors are those of two passes: findHeadEnd over the whole head
// (bare LF, and ErrNeedMore while the empty line has not come), then
// parseFields over the complete head (every other error, in byte order).
// That order does not depend on how the head was split across calls, and
// the first pass is all a resumed call does until the head is complete.
// A call that is not resuming inside the field lines tries the one pass of
// parseFields first: it succeeds exactly when the two passes would, and
// only an incomplete or bad head pays for the second try.
func parseHead(buf []byte, fs, from int, hs *[MaxHeaders]Header, maxHeaders int, f *fields) (end int, err error) {
	if from <= fs {
		if end, err := parseFields(buf, fs, hs, maxHeaders, f); err == nil {
			return end, nil
		}
		*f = fields{}
	}
	end, resume, err := findHeadEnd(buf, fs, from)
	if err != nil {
		return resume, err
	}
	return parseFields(buf[:end], fs, hs, maxHeaders, f)
}

// findHeadEnd finds the empty line that ends a head whose field lines
// start at buf[fs] (buf[fs-1] is the LF of the start line), resuming the
// search at from. It jumps from LF to LF with bytes.IndexByte, checking
// that each LF follows a CR (RFC 9112 §2.2: PILB rejects bare LF) and
// whether it ends an empty line. It returns the offset just past the head;
// on ErrNeedMore, resume is where to search next time.
func findHeadEnd(buf []byte, fs, from int) (end, resume int, err error) {
	i := max(from, fs)
	for i < len(buf) {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		if buf[j-1] != '\r' {
			return 0, 0, ErrBareLF
		}
		if buf[j-2] == '\n' {
			return j + 1, 0, nil
		}
		i = j + 1
	}
	return 0, len(buf), ErrNeedMore
}
