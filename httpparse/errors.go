package httpparse

import "errors"

// Each error below maps to exactly one HTTP status, returned by Status. All
// of them but ErrNeedMore mean the message is unusable and the connection it
// came from must not be reused for another message.
var (
	// ErrNeedMore is returned when buf holds a strict prefix of a valid head
	// (or chunked body): call again with more bytes appended.
	ErrNeedMore = errors.New("httpparse: need more data")

	// ErrBadRequestLine is returned when the request line is not
	// method SP request-target SP HTTP-version CRLF (RFC 9112 §3), or the
	// method is not a token. Status 400.
	ErrBadRequestLine = errors.New("httpparse: malformed request line")

	// ErrBadTarget is returned when the request-target is none of the
	// four forms of RFC 9112 §3.2, or a form its method may not use (see
	// checkTarget): "GET ! HTTP/1.1", "GET foo", "GET *" (asterisk-form is
	// for OPTIONS), "GET host:80" (authority-form is for CONNECT),
	// "CONNECT /", an absolute-form with a scheme other than http or https,
	// an empty host or a userinfo. Status 400.
	ErrBadTarget = errors.New("httpparse: request-target of no form its method allows")

	// ErrHostMismatch is returned when an absolute-form request-target
	// names another authority than the Host field: RFC 9112 §3.2.2 makes an
	// origin server ignore Host then, while routing, logging and
	// applications often read Host; a request that means two hosts is
	// refused rather than forwarded to be read either way (HAProxy does
	// the same). Case and a default port (:80 for http, :443 for https)
	// do not count as a difference. Status 400.
	ErrHostMismatch = errors.New("httpparse: Host differs from the request-target's authority")

	// ErrBadStatusLine is returned when a response's status line is not
	// HTTP-version SP 3DIGIT SP reason-phrase CRLF (RFC 9112 §4). Status 502
	// (it comes from a backend).
	ErrBadStatusLine = errors.New("httpparse: malformed status line")

	// ErrBadHeader is returned for a field line that breaks RFC 9112 §5:
	// a name that is not a token, whitespace before the colon, obs-fold,
	// or NUL, bare CR or another CTL in the value. Status 400.
	ErrBadHeader = errors.New("httpparse: malformed header field")

	// ErrBareLF is returned when a line ends in LF without CR. RFC 9112
	// §2.2 allows a recipient to accept it; PILB does not, because front
	// and back ends that disagree on line ends can be smuggled through.
	// Status 400.
	ErrBareLF = errors.New("httpparse: bare LF line terminator")

	// ErrMissingHost is returned for an HTTP/1.1 request without Host
	// (RFC 9112 §3.2). Status 400.
	ErrMissingHost = errors.New("httpparse: missing Host header")

	// ErrDuplicateHost is returned for a request with more than one Host
	// field line (RFC 9112 §3.2). Status 400.
	ErrDuplicateHost = errors.New("httpparse: more than one Host header")

	// ErrBadContentLength is returned when Content-Length is not a plain
	// decimal that fits in an int64, or several Content-Length values
	// differ (RFC 9112 §6.3 rule 5). Status 400.
	ErrBadContentLength = errors.New("httpparse: invalid Content-Length")

	// ErrConflictingFraming is returned when a message has both
	// Transfer-Encoding and Content-Length (RFC 9112 §6.1, §6.3 rule 3):
	// the classic request-smuggling vector. The connection must be closed
	// after the error response. Status 400.
	ErrConflictingFraming = errors.New("httpparse: both Transfer-Encoding and Content-Length")

	// ErrFramingLookAlike is returned for a request with a field whose
	// name reads as Transfer-Encoding or Content-Length once ASCII case is
	// ignored and the separators ('-', '_', '.' and the other tchars that
	// are not letters or digits) are dropped, but is not that name:
	// Transfer_Encoding, TransferEncoding, Content.Length. PILB frames the
	// request without it; a backend that maps '-' to '_' (CGI, WSGI, Rack)
	// or drops separators would frame it with it (lookalike.go). Status
	// 400.
	ErrFramingLookAlike = errors.New("httpparse: field name looks like Transfer-Encoding or Content-Length")

	// ErrTransferEncodingHTTP10 is returned for a Transfer-Encoding header
	// in an HTTP/1.0 request (RFC 9112 §6.1: a 1.0 message with it must be
	// treated as faulty). Status 400.
	ErrTransferEncodingHTTP10 = errors.New("httpparse: Transfer-Encoding in HTTP/1.0 request")

	// ErrUnsupportedTransferCoding is returned when the final transfer
	// coding of a request is not chunked, or a coding other than chunked is
	// applied (RFC 9112 §6.3 rule 4, §7). Status 501.
	ErrUnsupportedTransferCoding = errors.New("httpparse: unsupported transfer coding")

	// ErrUnsupportedVersion is returned for a version other than HTTP/1.0
	// and HTTP/1.1. Status 505.
	ErrUnsupportedVersion = errors.New("httpparse: unsupported HTTP version")

	// ErrHeadTooLarge is returned when the head exceeds Limits.MaxHeadBytes
	// without being complete. Status 431.
	ErrHeadTooLarge = errors.New("httpparse: message head too large")

	// ErrTooManyHeaders is returned when a head has more field lines than
	// Limits.MaxHeaders. Status 431.
	ErrTooManyHeaders = errors.New("httpparse: too many header fields")

	// ErrTargetTooLong is returned when the request-target is longer than
	// Limits.MaxTargetBytes. Status 414.
	ErrTargetTooLong = errors.New("httpparse: request-target too long")

	// ErrBadChunk is returned by ChunkedScanner for a malformed chunk-size
	// line, chunk terminator or trailer section (RFC 9112 §7.1). Status 400.
	ErrBadChunk = errors.New("httpparse: malformed chunked body")
)

// Status returns the HTTP status code a server answers with for err, or 0
// for nil and ErrNeedMore. Errors not from this package map to 400.
func Status(err error) int {
	switch err {
	case nil, ErrNeedMore:
		return 0
	case ErrBadStatusLine:
		return 502
	case ErrHeadTooLarge, ErrTooManyHeaders:
		return 431
	case ErrTargetTooLong:
		return 414
	case ErrUnsupportedTransferCoding:
		return 501
	case ErrUnsupportedVersion:
		return 505
	}
	return 400
}
