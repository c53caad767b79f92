package demobackend

import (
	"bytes"
	"net/http"
	"strconv"
)

// MaxBody is the largest body a route produces (/bytes/N, /chunked/N) or
// accepts (/echo): 64 MiB keeps the worst-case memory of one connection
// known while covering every size the benchmarks use. A larger /echo body
// gets 413, a larger N gets 400.
const MaxBody = 64 << 20

// routeKind is what a request asks for, decided from its target alone.
type routeKind uint8

const (
	routeRoot    routeKind = iota // "/" and every unknown path: 200 with Config.Body
	routeBytes                    // "/bytes/N": N pattern bytes, Content-Length
	routeChunked                  // "/chunked/N": N pattern bytes, chunked, trailer
	routeEcho                     // "/echo": the request body back
	routeStatus                   // "/status/N": status N, empty body
	routeClose                    // "/close": 200, then close
	routeBad                      // a known prefix with a bad N: 400
)

// route is the parsed target. n is the size for routeBytes and
// routeChunked and the status for routeStatus.
type route struct {
	kind routeKind
	n    int64
}

var (
	prefixBytes   = []byte("/bytes/")
	prefixChunked = []byte("/chunked/")
	prefixStatus  = []byte("/status/")
	pathEcho      = []byte("/echo")
	pathClose     = []byte("/close")
)

// parseRoute maps a request-target to a route without allocating. The
// absolute form (RFC 9112 §3.2.2) is reduced to its path; the query is
// ignored.
func parseRoute(target []byte) route {
	if len(target) > 0 && target[0] != '/' {
		if i := bytes.Index(target, []byte("://")); i >= 0 {
			target = target[i+3:]
			if j := bytes.IndexByte(target, '/'); j >= 0 {
				target = target[j:]
			} else {
				target = target[:0]
			}
		}
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	switch {
	case bytes.HasPrefix(target, prefixBytes):
		return sizedRoute(routeBytes, target[len(prefixBytes):], 0, MaxBody)
	case bytes.HasPrefix(target, prefixChunked):
		return sizedRoute(routeChunked, target[len(prefixChunked):], 0, MaxBody)
	case bytes.HasPrefix(target, prefixStatus):
		// 1xx are interim responses (RFC 9110 §15.2), not something to
		// answer a request with.
		return sizedRoute(routeStatus, target[len(prefixStatus):], 200, 599)
	case bytes.Equal(target, pathEcho):
		return route{kind: routeEcho}
	case bytes.Equal(target, pathClose):
		return route{kind: routeClose}
	}
	return route{kind: routeRoot}
}

// sizedRoute parses the decimal N of a sized route; N out of [lo, hi] or
// not a plain decimal is routeBad.
func sizedRoute(kind routeKind, digits []byte, lo, hi int64) route {
	if len(digits) == 0 || len(digits) > 10 {
		return route{kind: routeBad}
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return route{kind: routeBad}
		}
		n = n*10 + int64(c-'0')
	}
	if n < lo || n > hi {
		return route{kind: routeBad}
	}
	return route{kind: kind, n: n}
}

// connMode is the connection header a response carries.
type connMode uint8

const (
	modeKeep   connMode = iota // HTTP/1.1 keep-alive: no Connection field
	modeKeep10                 // HTTP/1.0 client that asked for keep-alive
	modeClose                  // "Connection: close", then close
	numModes
)

var connField = [numModes]string{
	modeKeep:   "",
	modeKeep10: "Connection: keep-alive\r\n",
	modeClose:  "Connection: close\r\n",
}

// Body lengths for appendHead that are not a Content-Length.
const (
	lengthChunked = -1 // Transfer-Encoding: chunked
	lengthNone    = -2 // no framing field at all (204, 304)
)

// heads holds what one Server precomputes: the whole "/" response for each
// connection mode and for GET and HEAD, and the fixed middle of every head.
type heads struct {
	// fields is "Server: <ID>\r\nContent-Type: text/plain\r\n".
	fields []byte
	// root[mode][0] is the full GET response to "/", root[mode][1] the
	// HEAD response (the same head, no body).
	root [numModes][2][]byte
	// trailer is the last chunk and trailer section of /chunked/N.
	trailer []byte
}

func newHeads(id string, body []byte) *heads {
	h := &heads{
		fields:  []byte("Server: " + id + "\r\nContent-Type: text/plain\r\n"),
		trailer: []byte("0\r\nX-Trailer: " + id + "\r\n\r\n"),
	}
	for m := range numModes {
		head := h.appendHead(nil, 200, int64(len(body)), connMode(m))
		h.root[m][1] = head
		h.root[m][0] = append(head[:len(head):len(head)], body...)
	}
	return h
}

// appendHead appends a response head to dst. length is a Content-Length,
// lengthChunked or lengthNone.
func (h *heads) appendHead(dst []byte, status int, length int64, mode connMode) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, h.fields...)
	switch {
	case length >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, "\r\n"...)
	case length == lengthChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n"...)
	}
	dst = append(dst, connField[mode]...)
	return append(dst, "\r\n"...)
}

// patternPeriod is the period of the bytes /bytes/N and /chunked/N send:
// body byte i is patternAlphabet[i%patternPeriod], so a client can check
// any range of a body it received.
const patternPeriod = 64

const patternAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// patternBlock is the largest slice of the pattern one write takes.
const patternBlock = 64 << 10

// pattern is patternBlock bytes plus one period, so that a block may start
// at any phase of the period.
var pattern = func() []byte {
	p := make([]byte, patternBlock+patternPeriod)
	for i := range p {
		p[i] = patternAlphabet[i%patternPeriod]
	}
	return p
}()

// patternAt returns up to patternBlock bytes of the pattern starting at body
// offset off. The slice is shared and read-only; it lives forever.
func patternAt(off, n int64) []byte {
	n = min(n, patternBlock)
	start := off % patternPeriod
	return pattern[start : start+n]
}

// PatternBody returns n bytes of the pattern that /bytes/N sends, for a
// Config.Body of a chosen size (pilb-backend -body-size) or to check a
// received body. n is clamped to [0, MaxBody].
func PatternBody(n int) []byte {
	n = min(max(n, 0), MaxBody)
	b := make([]byte, n)
	for i := range b {
		b[i] = patternAlphabet[i%patternPeriod]
	}
	return b
}
