package engine

import (
	"bytes"
	"net/http"
	"strconv"
)

// errorResponses holds the complete canned responses PILB itself answers
// with, built once: a status line, a short text body, and Connection: close
// or not; each also without its body, for HEAD. Indexed by status code,
// then [closeConn][head]; errorResponse builds the codes outside it.
var errorResponses = func() map[int][2][2][]byte {
	m := make(map[int][2][2][]byte)
	for _, code := range []int{400, 408, 413, 414, 431, 500, 501, 502, 503, 504, 505} {
		var v [2][2][]byte
		for i, closeConn := range []bool{false, true} {
			full := buildErrorResponse(code, closeConn)
			v[i] = [2][]byte{full, withoutBody(full)}
		}
		m[code] = v
	}
	return m
}()

// withoutBody returns the head of a canned response: the answer to HEAD
// keeps the Content-Length of the body it does not carry (RFC 9110 §9.3.2).
func withoutBody(resp []byte) []byte {
	i := bytes.Index(resp, []byte("\r\n\r\n"))
	return resp[:i+4]
}

// buildErrorResponse returns a whole response for code. The body is the
// status text: enough for a person with curl, nothing for an attacker.
func buildErrorResponse(code int, closeConn bool) []byte {
	text := http.StatusText(code)
	if text == "" {
		text = "Error"
	}
	body := strconv.Itoa(code) + " " + text + "\n"
	b := []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Cache-Control: no-store\r\n")
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// errorResponse returns the canned response for code, without a body when
// it answers a HEAD request; valid forever, never modify it.
func errorResponse(code int, closeConn, head bool) []byte {
	v, ok := errorResponses[code]
	if !ok {
		b := buildErrorResponse(code, closeConn)
		if head {
			b = withoutBody(b)
		}
		return b
	}
	return v[b2i(closeConn)][b2i(head)]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
