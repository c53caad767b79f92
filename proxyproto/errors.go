package proxyproto

import "errors"

var (
	// ErrNeedMore is returned when the buffer holds a strict prefix of a
	// header (of either version): call again with more bytes appended.
	ErrNeedMore = errors.New("proxyproto: need more data")

	// ErrNotProxy is returned when the bytes start neither the v1
	// signature ("PROXY ") nor the v2 one: the peer does not speak the
	// PROXY protocol (a client reached the port directly, say).
	ErrNotProxy = errors.New("proxyproto: no PROXY protocol header")

	// ErrMalformed is returned for a header whose signature is right but
	// whose body breaks the specification: a bad field, address or port
	// in v1, an unknown version, command, family or transport in v2, or
	// addresses or TLVs that do not fit its length.
	ErrMalformed = errors.New("proxyproto: malformed PROXY protocol header")

	// ErrTooLong is returned for a v1 line without CRLF in its first
	// MaxV1Len bytes, or a v2 header longer than MaxV2Len.
	ErrTooLong = errors.New("proxyproto: PROXY protocol header too long")
)
