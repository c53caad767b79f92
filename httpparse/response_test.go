package httpparse

import (
	"reflect"
	"strings"
	"testing"
)

type respCase struct {
	name   string
	in     string
	head   bool // the request was HEAD
	limits Limits
	err    error
	check  func(t *testing.T, r *Response)
}

// resp builds a response head from a status line and field lines.
func resp(line string, fields ...string) string {
	return line + "\r\n" + strings.Join(append(fields, ""), "\r\n") + "\r\n"
}

func wantResp(body BodyKind, cl int64, keepAlive bool) func(*testing.T, *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if r.Body != body || r.ContentLength != cl || r.KeepAlive != keepAlive {
			t.Errorf("Body, ContentLength, KeepAlive = %d, %d, %v; want %d, %d, %v",
				r.Body, r.ContentLength, r.KeepAlive, body, cl, keepAlive)
		}
	}
}

func wantStatus(minor, status int, reason string) func(*testing.T, *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if r.Minor != minor || r.Status != status || string(r.Reason) != reason || r.Reason == nil {
			t.Errorf("Minor, Status, Reason = %d, %d, %q; want %d, %d, %q", r.Minor, r.Status, r.Reason, minor, status, reason)
		}
	}
}

// wantHop checks the body kind and the IDs of the fields in order, and
// that the IDs that are hop-by-hop, and only those, are marked Hop.
func wantHop(body BodyKind, ids ...HeaderID) func(*testing.T, *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if r.Body != body || r.NumHeaders != len(ids) {
			t.Fatalf("Body, NumHeaders = %d, %d; want %d, %d", r.Body, r.NumHeaders, body, len(ids))
		}
		for i, id := range ids {
			h := r.Headers[i]
			if h.ID != id || h.Hop != hopByHop[id] {
				t.Errorf("%s: ID, Hop = %d, %v; want %d, %v", h.Name, h.ID, h.Hop, id, hopByHop[id])
			}
		}
	}
}

// Each attack case sits right after its legitimate twin.
var responseCases = []respCase{
	// Status line, RFC 9112 §4.
	{name: "200 OK", in: resp("HTTP/1.1 200 OK", "Content-Length: 0"), check: wantStatus(1, 200, "OK")},
	{name: "1.0", in: resp("HTTP/1.0 404 Not Found", "Content-Length: 0"), check: wantStatus(0, 404, "Not Found")},
	{name: "empty reason", in: resp("HTTP/1.1 200 ", "Content-Length: 0"), check: wantStatus(1, 200, "")},
	{name: "no SP before empty reason", in: resp("HTTP/1.1 200", "Content-Length: 0"), check: wantStatus(1, 200, "")},
	{name: "reason with HTAB and obs-text", in: resp("HTTP/1.1 200 O\tK \xe9", "Content-Length: 0"), check: wantStatus(1, 200, "O\tK \xe9")},
	{name: "reason with CTL", in: resp("HTTP/1.1 200 O\x01K", "Content-Length: 0"), err: ErrBadStatusLine},
	{name: "reason with DEL", in: resp("HTTP/1.1 200 O\x7fK", "Content-Length: 0"), err: ErrBadStatusLine},
	{name: "two-digit status", in: resp("HTTP/1.1 20 OK"), err: ErrBadStatusLine},
	{name: "four-digit status", in: resp("HTTP/1.1 2000 OK"), err: ErrBadStatusLine},
	{name: "status 099", in: resp("HTTP/1.1 099 X"), err: ErrBadStatusLine},
	{name: "status 599", in: resp("HTTP/1.1 599 X", "Content-Length: 0"), check: wantStatus(1, 599, "X")},
	{name: "status 600", in: resp("HTTP/1.1 600 X"), err: ErrBadStatusLine},
	{name: "status with sign", in: resp("HTTP/1.1 +20 X"), err: ErrBadStatusLine},
	{name: "two SPs", in: resp("HTTP/1.1  200 OK"), err: ErrBadStatusLine},
	{name: "HTTP/2.0", in: resp("HTTP/2.0 200 OK"), err: ErrBadStatusLine},
	{name: "HTTP/1.2", in: resp("HTTP/1.2 200 OK"), err: ErrBadStatusLine},
	{name: "lower-case version", in: resp("http/1.1 200 OK"), err: ErrBadStatusLine},
	{name: "leading CRLF", in: "\r\n" + resp("HTTP/1.1 200 OK"), err: ErrBadStatusLine},
	{name: "bare LF after status line", in: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF after status code", in: "HTTP/1.1 200\nContent-Length: 0\r\n\r\n", err: ErrBareLF},
	{name: "bare CR in status line", in: "HTTP/1.1 200 OK\rX: y\r\n\r\n", err: ErrBadStatusLine},
	{name: "bare LF after field", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", err: ErrBareLF},
	{name: "obs-fold", in: resp("HTTP/1.1 200 OK", "X: a", " b"), err: ErrBadHeader},
	{name: "SP before colon", in: resp("HTTP/1.1 200 OK", "X : a"), err: ErrBadHeader},
	{name: "NUL in value", in: resp("HTTP/1.1 200 OK", "X: a\x00"), err: ErrBadHeader},
	{name: "head over the limit", in: resp("HTTP/1.1 200 OK", "X: "+strings.Repeat("a", 64)), limits: Limits{MaxHeadBytes: 64}, err: ErrHeadTooLarge},
	{name: "incomplete head over the limit", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 64), limits: Limits{MaxHeadBytes: 64}, err: ErrHeadTooLarge},
	{name: "headers over the limit", in: resp("HTTP/1.1 200 OK", "A: 1", "B: 2"), limits: Limits{MaxHeaders: 1}, err: ErrTooManyHeaders},

	// Body length, RFC 9112 §6.3.
	{name: "CL", in: resp("HTTP/1.1 200 OK", "Content-Length: 12"), check: wantResp(BodyLength, 12, true)},
	{name: "CL zero", in: resp("HTTP/1.1 200 OK", "Content-Length: 0"), check: wantResp(BodyLength, 0, true)},
	{name: "CL bad", in: resp("HTTP/1.1 200 OK", "Content-Length: 1_2"), err: ErrBadContentLength},
	{name: "CL equal lines", in: resp("HTTP/1.1 200 OK", "Content-Length: 12", "Content-Length: 12"), check: wantResp(BodyLength, 12, true)},
	{name: "CL differing lines", in: resp("HTTP/1.1 200 OK", "Content-Length: 12", "Content-Length: 13"), err: ErrBadContentLength},
	{name: "CL equal list", in: resp("HTTP/1.1 200 OK", "Content-Length: 12,12"), check: wantResp(BodyLength, 12, true)},
	{name: "CL differing list", in: resp("HTTP/1.1 200 OK", "Content-Length: 12,1"), err: ErrBadContentLength},
	{name: "chunked", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), check: wantResp(BodyChunked, -1, true)},
	{name: "gzip, chunked", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), check: wantResp(BodyChunked, -1, true)},
	{name: "gzip then chunked lines", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), check: wantResp(BodyChunked, -1, true)},
	{name: "chunked, gzip", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip"), check: wantResp(BodyUntilClose, -1, false)},
	{name: "gzip", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), check: wantResp(BodyUntilClose, -1, false)},
	{name: "chunked in 1.0", in: resp("HTTP/1.0 200 OK", "Transfer-Encoding: chunked", "Connection: keep-alive"), check: wantResp(BodyUntilClose, -1, false)},
	{name: "CL and TE", in: resp("HTTP/1.1 200 OK", "Content-Length: 3", "Transfer-Encoding: chunked"), err: ErrConflictingFraming},
	// A framing look-alike (lookalike.go) cannot desync PILB, which writes
	// its own framing fields; it is dropped (Hop) so that nothing in front
	// of PILB reads it as framing either. Twin: the real field.
	{name: "TE chunked twin", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), check: wantHop(BodyChunked, HdrTransferEncoding)},
	{name: "Transfer_Encoding", in: resp("HTTP/1.1 200 OK", "Transfer_Encoding: chunked", "Content-Length: 3"), check: wantHop(BodyLength, HdrFramingLookAlike, HdrContentLength)},
	{name: "TransferEncoding", in: resp("HTTP/1.1 200 OK", "TransferEncoding: chunked"), check: wantHop(BodyUntilClose, HdrFramingLookAlike)},
	{name: "CL twin", in: resp("HTTP/1.1 200 OK", "Content-Length: 3"), check: wantHop(BodyLength, HdrContentLength)},
	{name: "Content_Length", in: resp("HTTP/1.1 200 OK", "Content_Length: 3", "Transfer-Encoding: chunked"), check: wantHop(BodyChunked, HdrFramingLookAlike, HdrTransferEncoding)},
	{name: "ContentLength", in: resp("HTTP/1.1 200 OK", "Content.Length: 3"), check: wantHop(BodyUntilClose, HdrFramingLookAlike)},
	{name: "CL and TE in 304", in: resp("HTTP/1.1 304 Not Modified", "Content-Length: 3", "Transfer-Encoding: chunked"), err: ErrConflictingFraming},
	{name: "neither", in: resp("HTTP/1.1 200 OK"), check: wantResp(BodyUntilClose, -1, false)},
	{name: "HEAD", in: resp("HTTP/1.1 200 OK", "Content-Length: 12"), head: true, check: wantResp(BodyNone, -1, true)},
	{name: "HEAD chunked", in: resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), head: true, check: wantResp(BodyNone, -1, true)},
	{name: "HEAD neither", in: resp("HTTP/1.1 200 OK"), head: true, check: wantResp(BodyNone, -1, true)},
	{name: "HEAD bad CL", in: resp("HTTP/1.1 200 OK", "Content-Length: x"), head: true, err: ErrBadContentLength},
	{name: "100", in: resp("HTTP/1.1 100 Continue"), check: wantResp(BodyNone, -1, true)},
	{name: "103", in: resp("HTTP/1.1 103 Early Hints", "Link: </a.css>; rel=preload"), check: wantResp(BodyNone, -1, true)},
	{name: "101", in: resp("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"), check: wantResp(BodyNone, -1, false)},
	{name: "204", in: resp("HTTP/1.1 204 No Content"), check: wantResp(BodyNone, -1, true)},
	{name: "304", in: resp("HTTP/1.1 304 Not Modified", "Content-Length: 100"), check: wantResp(BodyNone, -1, true)},
	{name: "205 is not 204", in: resp("HTTP/1.1 205 Reset Content", "Content-Length: 0"), check: wantResp(BodyLength, 0, true)},

	// Connection management, RFC 9112 §9.3.
	{name: "1.1 close", in: resp("HTTP/1.1 200 OK", "Content-Length: 0", "Connection: close"), check: wantResp(BodyLength, 0, false)},
	{name: "1.0 default", in: resp("HTTP/1.0 200 OK", "Content-Length: 0"), check: wantResp(BodyLength, 0, false)},
	{name: "1.0 keep-alive", in: resp("HTTP/1.0 200 OK", "Content-Length: 0", "Connection: keep-alive"), check: wantResp(BodyLength, 0, true)},
	{name: "hop", in: resp("HTTP/1.1 200 OK", "X-A: 1", "Content-Length: 0", "Keep-Alive: timeout=5", "Connection: X-A"),
		check: func(t *testing.T, r *Response) {
			for i, want := range []bool{true, false, true, true} {
				if r.Headers[i].Hop != want {
					t.Errorf("%s: Hop = %v", r.Headers[i].Name, r.Headers[i].Hop)
				}
			}
		}},
}

func TestParseResponse(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			r := Response{Limits: c.limits}
			n, err := ParseResponse([]byte(c.in), &r, c.head)
			if err != c.err {
				t.Fatalf("err = %v; want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if n != len(c.in) || r.Scanned != 0 {
				t.Errorf("n, Scanned = %d, %d; want %d, 0", n, r.Scanned, len(c.in))
			}
			if c.check != nil {
				c.check(t, &r)
			}
		})
	}
}

// TestParseResponseTrickle is TestParseRequestTrickle for responses:
// every strict prefix needs more (unless already bad) and the resumed
// result equals the one-shot result.
func TestParseResponseTrickle(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			buf := []byte(c.in + "body")
			one := Response{Limits: c.limits}
			wantN, wantErr := ParseResponse(buf, &one, c.head)
			r := Response{Limits: c.limits}
			for k := 0; k <= len(buf); k++ {
				fresh := Response{Limits: c.limits}
				_, ferr := ParseResponse(buf[:k], &fresh, c.head)
				n, err := ParseResponse(buf[:k], &r, c.head)
				if err != ferr {
					t.Fatalf("prefix %d: carried err %v, fresh err %v", k, err, ferr)
				}
				if err == ErrNeedMore {
					if k == len(buf) {
						t.Fatalf("whole input: ErrNeedMore; want %v", wantErr)
					}
					// Each call checks only what is new (and a trailing CR
					// again): trickled heads cost linear time.
					if r.Scanned < k-1 {
						t.Fatalf("prefix %d: Scanned = %d lags behind", k, r.Scanned)
					}
					continue
				}
				if err != wantErr || n != wantN {
					t.Fatalf("prefix %d: n, err = %d, %v; want %d, %v", k, n, err, wantN, wantErr)
				}
				if err == nil && !reflect.DeepEqual(&r, &one) {
					t.Fatalf("resumed result differs:\n%+v\n%+v", r, one)
				}
				return
			}
		})
	}
}

func TestParseResponseStaleScanned(t *testing.T) {
	for _, c := range []struct {
		in      string
		scanned int
		err     error
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1000, nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 20, nil},
		{"H\r\nContent-Length: 0\r\n\r\n", 10, ErrBadStatusLine},
		{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 20, ErrBadStatusLine},
	} {
		r := Response{Scanned: c.scanned}
		if _, err := ParseResponse([]byte(c.in), &r, false); err != c.err {
			t.Errorf("%q with Scanned %d: err = %v; want %v", c.in, c.scanned, err, c.err)
		}
	}
}
