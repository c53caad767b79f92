// Package httpparse is PILB's zero-allocation, strict HTTP/1.1 message-head
// parser and body-framing scanner (RFC 9110, RFC 9112). It imports only the
// standard library.
//
// The API has the picohttpparser shape: the caller owns the input buffer and
// the result struct; ParseRequest and ParseResponse return how many bytes the
// head took, ErrNeedMore when the head is not complete yet, or a specific
// error (see errors.go) that maps to one HTTP status through Status.
//
// Every []byte in a Request or Response is a sub-slice of the buffer passed
// to the parse call: it is valid until the caller changes or releases that
// buffer (in PILB's engine, until OnTraffic returns).
//
// The parser is strict where leniency enables request smuggling: bare LF
// line ends, obs-fold, whitespace before a colon, CTLs in values, conflicting
// Content-Length, Transfer-Encoding with Content-Length or in HTTP/1.0, and a
// final transfer coding other than chunked are all rejected.
package httpparse
