package engine

import (
	"net/netip"
	"strconv"

	"github.com/pilb-proxy/pilb/httpparse"
)

// This file writes the heads PILB sends: the request head upstream and the
// response head back. Both drop the hop-by-hop fields the parser marked
// (httpparse marks the fixed RFC 9110 §7.6.1 list and every field named in
// Connection) and then write the framing and connection fields of their own
// hop, so that nothing one hop said about itself leaks into the next.

const crlf = "\r\n"

// appendRequestHead appends to dst the head PILB sends upstream for r,
// received from a client at clientIP, and returns the extended slice.
//
//   - The request line keeps method and target byte for byte and always
//     says HTTP/1.1 (RFC 9112 §2.3: a proxy sends its own version).
//   - Host and every end-to-end field are kept as received.
//   - X-Forwarded-For: the client's values, then clientIP, on one line.
//   - X-Forwarded-Proto is replaced by proto; a Via entry is added with
//     the protocol version the client spoke (RFC 9110 §7.6.3).
//   - Content-Length is rewritten once in canonical form, and
//     Transfer-Encoding: chunked is re-added for a chunked body, so that
//     the backend sees exactly the framing PILB used to parse the body.
//   - An upgrade request keeps its Upgrade field and says
//     Connection: Upgrade; nothing else says Connection: the backend hop
//     is HTTP/1.1 keep-alive by default.
func appendRequestHead(dst []byte, r *httpparse.Request, clientIP netip.Addr, proto string) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	dst = append(dst, " HTTP/1.1\r\n"...)

	hasXFF := false
	for i := range r.Headers[:r.NumHeaders] {
		h := &r.Headers[i]
		switch {
		case h.ID == httpparse.HdrUpgrade && r.Upgrade, h.ID == httpparse.HdrHost:
			// Kept: the backend needs Upgrade to switch protocols, and
			// Host even when a client names it in Connection.
		case h.Hop:
			continue
		case h.ID == httpparse.HdrXForwardedFor:
			hasXFF = true
			continue
		case h.ID == httpparse.HdrXForwardedProto, h.ID == httpparse.HdrContentLength:
			continue
		}
		dst = appendField(dst, h.Name, h.Value)
	}

	if r.Host == nil {
		// An HTTP/1.0 request may lack Host; the HTTP/1.1 request made of
		// it must not (RFC 9112 §3.2): the target's authority, or empty.
		dst = append(dst, "Host: "...)
		dst = append(dst, targetAuthority(r.Target)...)
		dst = append(dst, crlf...)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	if hasXFF {
		for i := range r.Headers[:r.NumHeaders] {
			h := &r.Headers[i]
			if h.ID == httpparse.HdrXForwardedFor && len(h.Value) > 0 {
				dst = append(dst, h.Value...)
				dst = append(dst, ", "...)
			}
		}
	}
	dst = clientIP.AppendTo(dst)
	dst = append(dst, "\r\nX-Forwarded-Proto: "...)
	dst = append(dst, proto...)
	if r.Minor == 0 {
		dst = append(dst, "\r\nVia: 1.0 pilb\r\n"...)
	} else {
		dst = append(dst, "\r\nVia: 1.1 pilb\r\n"...)
	}

	switch r.Body {
	case httpparse.BodyLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.ContentLength, 10)
		dst = append(dst, crlf...)
	case httpparse.BodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if r.Upgrade {
		dst = append(dst, "Connection: Upgrade\r\n"...)
	}
	return append(dst, crlf...)
}

// respFraming is what the engine decided about one response to one client,
// and what the response head must say about it.
type respFraming struct {
	// dechunk: the body arrives chunked but the client speaks HTTP/1.0,
	// which has no chunked coding: PILB removes the chunk framing and ends
	// the body by closing (RFC 9112 §7.1, §6.3 rule 8).
	dechunk bool
	// closeClient: the client connection ends after this response
	// (Connection: close is said).
	closeClient bool
	// keepAlive10: an HTTP/1.0 client that asked for keep-alive gets
	// Connection: keep-alive, since 1.0 closes by default.
	keepAlive10 bool
	// upgrade: a 101 answer to an upgrade request; Upgrade is kept and
	// Connection: Upgrade said.
	upgrade bool
}

// appendResponseHead appends the head PILB sends to the client for the
// backend's response r. The status code and reason are kept; the version is
// PILB's own (HTTP/1.1); hop-by-hop fields are dropped, a Via entry is added
// and the framing and connection fields of the client hop are written.
// Content-Length is kept as received: for HEAD and 304 it describes a body
// that is not sent (RFC 9110 §8.6).
func appendResponseHead(dst []byte, r *httpparse.Response, f respFraming) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason...)
	dst = append(dst, crlf...)

	verbatimChunked := r.Body == httpparse.BodyChunked && !f.dechunk
	for i := range r.Headers[:r.NumHeaders] {
		h := &r.Headers[i]
		if h.Hop {
			// Upgrade names the new protocol of a 101. A chunked body
			// forwarded as it is keeps its Transfer-Encoding lines, with
			// any coding applied before chunked (gzip, chunked), and the
			// Trailer field announcing its trailers.
			keep := (h.ID == httpparse.HdrUpgrade && f.upgrade) ||
				(h.ID == httpparse.HdrTrailer || h.ID == httpparse.HdrTransferEncoding) && verbatimChunked
			if !keep {
				continue
			}
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	if r.Minor == 0 {
		dst = append(dst, "Via: 1.0 pilb\r\n"...)
	} else {
		dst = append(dst, "Via: 1.1 pilb\r\n"...)
	}
	switch {
	case f.upgrade:
		dst = append(dst, "Connection: Upgrade\r\n"...)
	case f.closeClient:
		dst = append(dst, "Connection: close\r\n"...)
	case f.keepAlive10:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, crlf...)
}

// appendInterimHead appends a 1xx response (100 Continue, 103 Early Hints)
// for an HTTP/1.1 client, without its hop-by-hop fields.
func appendInterimHead(dst []byte, r *httpparse.Response) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason...)
	dst = append(dst, crlf...)
	for i := range r.Headers[:r.NumHeaders] {
		if h := &r.Headers[i]; !h.Hop {
			dst = appendField(dst, h.Name, h.Value)
		}
	}
	return append(dst, crlf...)
}

func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, crlf...)
}

// targetAuthority returns the authority of an absolute-form request-target
// ("http://host:port/path" gives "host:port"), or nil for the other forms.
func targetAuthority(target []byte) []byte {
	rest, ok := cutSchemePrefix(target)
	if !ok {
		return nil
	}
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			return rest[:i]
		}
	}
	return rest
}

// cutSchemePrefix strips "http://" or "https://", in any case.
func cutSchemePrefix(t []byte) ([]byte, bool) {
	for _, scheme := range [...]string{"http://", "https://"} {
		if len(t) >= len(scheme) && httpparse.EqualFoldASCII(t[:len(scheme)], scheme) {
			return t[len(scheme):], true
		}
	}
	return nil, false
}
