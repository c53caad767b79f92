package httpparse

// Limit defaults. A zero field in Limits takes these.
const (
	// DefaultMaxHeadBytes bounds a head (start line, field lines and the
	// final CRLF). 32 KiB is above every browser's cookie budget and below
	// what lets one idle connection pin real memory.
	DefaultMaxHeadBytes = 32 << 10

	// DefaultMaxTargetBytes bounds the request-target. RFC 9112 §3 asks for
	// at least 8000 octets.
	DefaultMaxTargetBytes = 8 << 10

	// MaxHeaders is the size of the fixed header array in Request and
	// Response, and the default and ceiling for Limits.MaxHeaders
	// (HAProxy's tune.http.maxhdr defaults to 101).
	MaxHeaders = 100
)

// Limits bounds what a parse accepts. The zero value means the defaults.
type Limits struct {
	// MaxHeadBytes is the most bytes a head may take; 0 means
	// DefaultMaxHeadBytes. Past it, an incomplete head is ErrHeadTooLarge.
	MaxHeadBytes int
	// MaxTargetBytes is the longest request-target; 0 means
	// DefaultMaxTargetBytes. Past it: ErrTargetTooLong.
	MaxTargetBytes int
	// MaxHeaders is the most field lines; 0 or more than MaxHeaders means
	// MaxHeaders. Past it: ErrTooManyHeaders.
	MaxHeaders int
}

// HeaderID names the fields PILB acts on, recognised case-insensitively
// during the parse so that callers switch on an int instead of comparing
// names again.
type HeaderID uint8

// Known header IDs. HdrOther is every field not listed.
const (
	HdrOther HeaderID = iota
	HdrHost
	HdrContentLength
	HdrTransferEncoding
	HdrConnection
	HdrKeepAlive
	HdrProxyConnection
	HdrTE
	HdrTrailer
	HdrUpgrade
	HdrProxyAuthenticate
	HdrProxyAuthorization
	HdrExpect
	HdrXForwardedFor
	HdrXForwardedProto
	HdrVia
	// HdrFramingLookAlike is a field whose name is not Transfer-Encoding
	// or Content-Length but reads as one of them to servers that ignore
	// separators (lookalike.go): Transfer_Encoding, ContentLength. A
	// request with one is ErrFramingLookAlike; in a response it is Hop.
	HdrFramingLookAlike
	// HdrForwardedLookAlike is a field whose name is not X-Forwarded-For
	// or X-Forwarded-Proto but reads as one of them to the same servers
	// (lookalike.go): X_Forwarded_For. It is Hop, so never forwarded.
	HdrForwardedLookAlike
)

// Header is one field line. Name and Value are sub-slices of the parsed
// buffer, valid as long as it is; Value has leading and trailing
// whitespace removed (RFC 9112 §5).
type Header struct {
	Name  []byte
	Value []byte
	// ID is the field's name when it is one PILB acts on.
	ID HeaderID
	// Hop is true for a hop-by-hop field that a proxy must not forward
	// (RFC 9110 §7.6.1): the fixed list (see hopByHop) and every field
	// named by a token of Connection.
	Hop bool
}

// BodyKind is how a message's body is delimited (RFC 9112 §6.3).
type BodyKind uint8

const (
	// BodyNone: no body (a request without Content-Length or
	// Transfer-Encoding; a response to HEAD, 1xx, 204, 304).
	BodyNone BodyKind = iota
	// BodyLength: exactly ContentLength bytes follow the head.
	BodyLength
	// BodyChunked: a chunked body follows; scan it with ChunkedScanner.
	BodyChunked
	// BodyUntilClose: the body runs until the sender closes the connection
	// (responses only, RFC 9112 §6.3 rule 8).
	BodyUntilClose
)

// Request is the result of ParseRequest. The caller owns it and may reuse
// it: each successful parse overwrites every field but Limits.
type Request struct {
	// Limits bounds the parse; set it once, it survives parses.
	Limits Limits

	// Method, Target and Version are sub-slices of the request line.
	// Target has one of the RFC 9112 §3.2 forms Method may use (see
	// checkTarget in target.go): origin-form, http(s) absolute-form,
	// "*" for OPTIONS, host:port for CONNECT.
	Method  []byte
	Target  []byte
	Version []byte
	// Minor is the HTTP/1.x minor version: 0 or 1.
	Minor int

	// Headers[:NumHeaders] are the field lines in order.
	Headers    [MaxHeaders]Header
	NumHeaders int

	// Body says how the body is framed: BodyNone, BodyLength or
	// BodyChunked. ContentLength is the declared length for BodyLength
	// and -1 otherwise.
	Body          BodyKind
	ContentLength int64

	// KeepAlive is true when the connection may carry another request
	// after this one: HTTP/1.1 without "Connection: close", or HTTP/1.0
	// with "Connection: keep-alive" (RFC 9112 §9.3).
	KeepAlive bool
	// Upgrade is true when the request asks for a protocol switch: an
	// Upgrade field and "upgrade" among the Connection tokens
	// (RFC 9110 §7.8).
	Upgrade bool
	// Expect100 is true for "Expect: 100-continue" (RFC 9110 §10.1.1).
	Expect100 bool
	// Host is the Host field's value (nil when absent, HTTP/1.0 only).
	Host []byte

	// Scanned is parser state for resuming: after ParseRequest returns
	// ErrNeedMore it holds how many bytes of buf were already checked, and
	// the next call with the same bytes plus more resumes from there, so a
	// head that trickles in costs linear time. Every other return sets it
	// to 0. A caller that shares one Request among connections saves and
	// restores it per connection; 0 always means "start over".
	Scanned int
}

// Response is the result of ParseResponse; the caller owns and may reuse
// it like Request.
type Response struct {
	Limits Limits

	// Minor is the HTTP/1.x minor version of the status line.
	Minor int
	// Status is the three-digit status code; Reason the reason phrase.
	Status int
	Reason []byte

	Headers    [MaxHeaders]Header
	NumHeaders int

	// Body is BodyNone, BodyLength, BodyChunked or BodyUntilClose,
	// resolved by RFC 9112 §6.3 from the status, the request method and
	// the framing fields. ContentLength is set for BodyLength, else -1.
	Body          BodyKind
	ContentLength int64

	// KeepAlive is true when the backend connection may be reused after
	// this response: HTTP/1.1 without "Connection: close" (or HTTP/1.0
	// with "Connection: keep-alive") and a body not delimited by close.
	KeepAlive bool

	// Scanned is resume state, as in Request.
	Scanned int
}
