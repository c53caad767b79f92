// Package proxyproto parses the PROXY protocol header, versions 1 (text)
// and 2 (binary), that a layer-4 load balancer such as an AWS Network Load
// Balancer or HAProxy in TCP mode puts in front of a connection to tell the
// server the client's address
// (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
//
// The API has the picohttpparser shape of httpparse: the caller owns the
// buffer and the Header; Parse returns how many bytes the header took,
// ErrNeedMore for a strict prefix of a header, and a specific error for
// bytes that cannot start or be one. Nothing is allocated and nothing of
// the buffer is kept: addresses are netip values. It imports only the
// standard library.
//
// Parse is strict where the specification is, so that a header cannot be
// read two ways: a v1 line ends in CRLF within 107 bytes, its fields are
// separated by single spaces, addresses are in canonical form (no leading
// zeros in an IPv4 octet, no zone in IPv6), ports are decimal without
// leading zeros; a v2 header has version 2, a known command, a length
// that covers its addresses and TLVs that fit in it exactly.
package proxyproto
