package httpparse

import "bytes"

// ParseResponse parses the response head at the start of buf into r and
// returns its length n including the final CRLF: buf[n:] is the body.
// reqMethodHEAD says the request it answers was HEAD. On ErrNeedMore,
// r.Scanned remembers how far buf was checked, as in ParseRequest. Every
// []byte in r is a sub-slice of buf, valid while buf is. No empty lines are
// skipped before the status line: one there means the previous response
// was framed wrongly.
//
// The body length follows RFC 9112 §6.3:
//   - a response to HEAD, 1xx, 204 or 304 has no body (rule 1), and 101
//     switches protocols (KeepAlive is false: the connection is no longer
//     HTTP);
//   - Transfer-Encoding and Content-Length together are
//     ErrConflictingFraming whatever the status (rule 3);
//   - Transfer-Encoding whose final coding is chunked is BodyChunked;
//     with another final coding the body runs until close (rule 4), and so
//     it does in an HTTP/1.0 response, whose Transfer-Encoding RFC 9112
//     §6.1 calls faulty framing. Codings before chunked ("gzip, chunked")
//     are legal here: whoever strips the chunked framing must keep them;
//   - Content-Length is BodyLength (rule 6), invalid or differing values
//     are ErrBadContentLength even where the status has no body;
//   - otherwise the body runs until close (rule 8).
//
// A body delimited by close makes KeepAlive false. A field whose name only
// looks like Transfer-Encoding or Content-Length (Transfer_Encoding; see
// lookalike.go) is no error here, unlike in a request: it takes no part in
// the framing above, which PILB replaces with its own, and it is marked Hop
// (HdrFramingLookAlike) so that it is not forwarded to a client or proxy
// that might read it as framing. Refusing the response (502) would cost
// the client its answer and protect nothing more.
func ParseResponse(buf []byte, r *Response, reqMethodHEAD bool) (n int, err error) {
	maxHead, _, maxHeaders := r.Limits.resolve()
	from := r.Scanned
	r.Scanned = 0

	stop := len(buf)
	if stop > maxHead {
		stop = maxHead
	}
	if from < 0 || from > stop {
		from = 0
	}
	line := buf[:stop]
	cr, checked, err := scanStatusLine(line, from)
	if err == ErrNeedMore {
		if len(buf) >= maxHead {
			return 0, ErrHeadTooLarge
		}
		r.Scanned = checked
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	fs := cr + 2
	var f fields
	end, err := parseHead(line, fs, from, &r.Headers, maxHeaders, &f)
	if err == ErrNeedMore {
		if len(buf) >= maxHead {
			return 0, ErrHeadTooLarge
		}
		r.Scanned = end
		return 0, err
	}
	if err != nil {
		return 0, err
	}

	r.Minor = int(line[7] - '0')
	r.Status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if cr > 12 {
		r.Reason = line[13:cr]
	} else {
		r.Reason = line[12:12]
	}
	r.NumHeaders = f.n
	if f.teLines > 0 && f.clDigits != nil {
		return 0, ErrConflictingFraming
	}

	st := r.Status
	r.ContentLength = -1
	switch {
	case reqMethodHEAD || st < 200 || st == 204 || st == 304:
		r.Body = BodyNone
	case f.teLines > 0:
		r.Body = BodyUntilClose
		if f.teLastIsCh && r.Minor == 1 {
			r.Body = BodyChunked
		}
	case f.clDigits != nil:
		r.Body, r.ContentLength = BodyLength, f.cl
	default:
		r.Body = BodyUntilClose
	}
	if r.Minor == 1 {
		r.KeepAlive = f.conn&connClose == 0
	} else {
		r.KeepAlive = f.conn&connKeepAlive != 0
	}
	if r.Body == BodyUntilClose || st == 101 {
		r.KeepAlive = false
	}
	markHop(r.Headers[:f.n], f.conn&connOther != 0)
	return end, nil
}

// statusLineFixed is the fixed part of a status line (RFC 9112 §4) up to
// the minor version digit.
const statusLineFixed = "HTTP/1."

// scanStatusLine checks the status line at the start of b (RFC 9112 §4:
// HTTP-version SP 3DIGIT SP reason-phrase CRLF) byte by byte in order,
// resuming at from. Only HTTP/1.0 and HTTP/1.1 pass, the status code must
// be 100-599 (RFC 9110 §15), and, as net/http does, the SP before an empty
// reason may be missing ("HTTP/1.1 200\r\n"). It returns the offset of
// the CR; on ErrNeedMore, checked is how many bytes of b are known good.
func scanStatusLine(b []byte, from int) (cr, checked int, err error) {
	if from > 0 {
		if j := bytes.IndexByte(b[:from], '\n'); j > 0 {
			// Checked before; start over if the fixed part does not fit,
			// as with a Scanned that came from another buffer.
			if cr = j - 1; cr >= 12 && b[cr] == '\r' && string(b[:len(statusLineFixed)]) == statusLineFixed &&
				b[8] == ' ' && (b[7] == '0' || b[7] == '1') && b[9] >= '1' && b[9] <= '5' &&
				b[10] >= '0' && b[10] <= '9' && b[11] >= '0' && b[11] <= '9' {
				return cr, 0, nil
			}
			from = 0
		}
	}
	i := from
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case i < len(statusLineFixed):
			if c != statusLineFixed[i] {
				return 0, 0, errStatusLine(c)
			}
		case i == 7:
			if c != '0' && c != '1' {
				return 0, 0, errStatusLine(c)
			}
		case i == 8:
			if c != ' ' {
				return 0, 0, errStatusLine(c)
			}
		case i == 9:
			if c < '1' || c > '5' {
				return 0, 0, errStatusLine(c)
			}
		case i < 12:
			if c < '0' || c > '9' {
				return 0, 0, errStatusLine(c)
			}
		case c == '\r':
			if i+1 == len(b) {
				return 0, i, ErrNeedMore
			}
			if b[i+1] != '\n' {
				return 0, 0, ErrBadStatusLine
			}
			return i, 0, nil
		case i == 12:
			if c != ' ' {
				return 0, 0, errStatusLine(c)
			}
		default:
			// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
			if charClass[c]&clsValue == 0 {
				return 0, 0, errStatusLine(c)
			}
		}
	}
	return 0, i, ErrNeedMore
}

// errStatusLine is the error for byte c out of place in a status line: a
// bare LF has its own error.
func errStatusLine(c byte) error {
	if c == '\n' {
		return ErrBareLF
	}
	return ErrBadStatusLine
}
