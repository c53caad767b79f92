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
// Content-Length, Transfer-Encoding with Content-Length or in HTTP/1.0, a
// final transfer coding other than chunked, and a field name that reads as
// Transfer-Encoding or Content-Length once '_' and the other separators are
// dropped (Transfer_Encoding, ContentLength; see lookalike.go) are all
// rejected, and so is a request-target that is not one of the four forms
// of RFC 9112 §3.2 its method may use (see target.go).
//
// # Resuming
//
// After ErrNeedMore, Scanned in the result struct says how far the bytes
// were checked; the next call with the same bytes and more appended starts
// there, so a head that arrives a byte at a time costs linear time. Which
// error a bad head gets does not depend on how its bytes were split across
// calls: the request or status line is checked byte by byte in order, and a
// request-target's form once its line is whole; then the field lines are
// searched for a bare LF and for the empty line that ends the head (and the
// size limits), and only a complete head is parsed field by field, with the
// first bad byte deciding the error.
//
// # Hop-by-hop fields
//
// Header.Hop marks what a proxy must not forward (RFC 9110 §7.6.1): the
// fixed list in hop.go, which includes Transfer-Encoding and Connection,
// and every field a Connection option names. The forwarding side re-adds
// its own framing and connection fields.
package httpparse
