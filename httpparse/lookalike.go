package httpparse

// Framing look-alikes.
//
// A field called Transfer_Encoding or ContentLength means nothing to
// HTTP/1.1 (RFC 9110 §5.1: field names are compared case-insensitively,
// and that is all), so PILB would frame the request without it and forward
// it as an ordinary field. But many servers behind a proxy do not keep field
// names apart the way HTTP does:
//
//   - CGI (RFC 3875 §4.1.18), PHP, WSGI (PEP 3333: gunicorn, uWSGI,
//     mod_wsgi) and Rack (Puma, GHSA-9hf4-67fc-4vf4) turn a name into an
//     HTTP_ variable by upper-casing it and writing '-' as '_', so
//     Transfer-Encoding and Transfer_Encoding are one key; nginx passes
//     underscores through to them with underscores_in_headers on. That is
//     why nginx (by default) and gunicorn 22 drop names with '_', Apache
//     2.4 keeps them out of its CGI environment and Traefik can refuse
//     them.
//   - Code that maps names to identifiers or struct fields (camel case,
//     "relaxed binding") drops the separators and reads TransferEncoding,
//     Transfer.Encoding or Transfer--Encoding as the same thing.
//
// A backend that takes such a look-alike as framing reads a body where PILB
// read the next request, or the other way round: the request-smuggling
// desync RFC 9112 §6.3 rule 3 and §11.2 warn about. No legitimate field is
// spelt like a framing field with different punctuation, so PILB refuses
// every one (ErrFramingLookAlike) rather than guess which reading a backend
// has.
//
// The rule: ignore ASCII case, drop every tchar that is not a letter or a
// digit ('!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`',
// '|', '~'), and compare with "transferencoding" and "contentlength". The
// exact names (HdrTransferEncoding, HdrContentLength) are not look-alikes:
// they are parsed as framing as before. Only the two framing fields are
// covered: a look-alike of another field cannot change where a message
// ends.
//
// In a response (see ParseResponse) a look-alike cannot desync PILB, which
// writes its own framing fields to the client; it is marked Hop and dropped
// so that a client or proxy in front of PILB that reads it as framing is
// not desynced either.

// Forwarding look-alikes.
//
// The same servers merge X_Forwarded_For with X-Forwarded-For (both are
// HTTP_X_FORWARDED_FOR to CGI, WSGI and Rack), so a client could pass off
// an address of its choice as the one PILB vouches for, next to the
// X-Forwarded-For PILB writes (the spoofing of GHSA-9hf4-67fc-4vf4). A
// look-alike of X-Forwarded-For or X-Forwarded-Proto is marked Hop
// (HdrForwardedLookAlike), in requests and responses: the engine drops it
// and writes the real fields itself.

// Names with case and separators removed.
const (
	squashedTE   = "transferencoding"
	squashedCL   = "contentlength"
	squashedXFF  = "xforwardedfor"
	squashedXFP  = "xforwardedproto"
	squashedXFwd = "xforwarded" // what the last two share
)

// minLookAlikeLen is the length of the shortest name that can be a
// look-alike: the letters of squashedCL or squashedXFF with no separator at
// all. Shorter names, which are most of them, are never looked at twice.
const minLookAlikeLen = len(squashedCL)

// lookAlike returns HdrFramingLookAlike or HdrForwardedLookAlike when the
// field name, a token, reads as Transfer-Encoding or Content-Length, or as
// X-Forwarded-For or X-Forwarded-Proto, once ASCII case is ignored and
// every non-alphanumeric tchar dropped; HdrOther otherwise. It matches the
// exact names too: callers ask only about names lookupID did not
// recognise. It stops at the first letter or digit that does not fit, so
// for nearly every name it reads one or two bytes.
func lookAlike(name []byte) HeaderID {
	if len(name) < minLookAlikeLen {
		return HdrOther
	}
	var want string
	j := 0
	for _, c := range name {
		if charClass[c]&clsAlnum == 0 {
			continue
		}
		c = lowerASCII[c]
		switch {
		case j == 0:
			switch c {
			case 't':
				want = squashedTE
			case 'c':
				want = squashedCL
			case 'x':
				want = squashedXFwd
			default:
				return HdrOther
			}
		case j == len(squashedXFwd) && want == squashedXFwd:
			switch c { // the two forwarding names part here
			case 'f':
				want = squashedXFF
			case 'p':
				want = squashedXFP
			default:
				return HdrOther
			}
		}
		if j == len(want) || want[j] != c {
			return HdrOther
		}
		j++
	}
	switch {
	case j == 0 || j != len(want):
		return HdrOther
	case want == squashedTE, want == squashedCL:
		return HdrFramingLookAlike
	case want == squashedXFF, want == squashedXFP:
		return HdrForwardedLookAlike
	}
	return HdrOther
}

// isFramingLookAlike reports whether name is a framing look-alike.
func isFramingLookAlike(name []byte) bool { return lookAlike(name) == HdrFramingLookAlike }
