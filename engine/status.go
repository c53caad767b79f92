package engine

import (
	"net/http"
	"strconv"
)

// errorResponses holds the complete canned responses PILB itself answers
// with, built once: a status line, a short text body, and Connection: close
// or not. Indexed by status code; errorResponse builds the table lazily for
// codes outside it.
var errorResponses = func() map[int][2][]byte {
	m := make(map[int][2][]byte)
	for _, code := range []int{400, 408, 413, 414, 431, 500, 501, 502, 503, 504, 505} {
		m[code] = [2][]byte{buildErrorResponse(code, false), buildErrorResponse(code, true)}
	}
	return m
}()

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

// errorResponse returns the canned response for code; valid forever, never
// modify it.
func errorResponse(code int, closeConn bool) []byte {
	pair, ok := errorResponses[code]
	if !ok {
		return buildErrorResponse(code, closeConn)
	}
	if closeConn {
		return pair[1]
	}
	return pair[0]
}
