package httpparse

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"reflect"
	"strings"
	"testing"
)

// The fuzz targets check, for any input: no panic; n within the input;
// a parse resumed after a prefix gives the one-shot result; and agreement
// with net/http in the directions that matter to a proxy in front of Go
// servers: when both accept, they see the same method, target and field
// values; when net/http rejects the framing (Content-Length,
// Transfer-Encoding), so does PILB. net/http is more lenient than PILB in
// places (bare LF, obs-fold, TE in HTTP/1.0), so PILB rejecting what
// net/http accepts is not checked. Beyond net/http: no accepted request
// has a field whose name reads as Transfer-Encoding or Content-Length
// with the separators dropped (lookalike.go), checked against the obvious
// statement of that rule, and a response's look-alikes are always Hop;
// every accepted request-target has a form its method may use (RFC 9112
// §3.2), checked against a plain restatement of checkTarget.

// smuggleSeeds are requests that a backend reading field names or
// targets loosely may take differently, each after its twin, some
// pipelined so that a mutation that drops the bad part still leaves a
// second request behind.
var smuggleSeeds = []string{
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransferEncoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTRANSFER.ENCODING: chunked\r\n\r\n0\r\n\r\n",
	"GET ! HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://u@evil/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n",
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range validRequests {
		f.Add([]byte(s))
	}
	for _, s := range smuggleSeeds {
		f.Add([]byte(s))
	}
	for _, c := range requestCases {
		if len(c.in) < 1024 {
			f.Add([]byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var one Request
		n, err := ParseRequest(data, &one)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("n, err = %d, %v for %d bytes", n, err, len(data))
		}
		checkResumedRequest(t, data, &one, n, err)
		// A Scanned from another buffer must not make it panic or read
		// out of bounds; the result is unspecified.
		stale := Request{Scanned: len(data) / 3}
		if n, _ := ParseRequest(data, &stale); n < 0 || n > len(data) {
			t.Fatalf("stale Scanned: n = %d", n)
		}
		if err == nil {
			checkRequestResult(t, data[:n], &one)
		}
		diffNetHTTPRequest(t, data, &one, err)
	})
}

// checkResumedRequest parses half of data, then all of it with the state
// carried over, and wants the one-shot result; it also wants ErrNeedMore
// for the strict prefixes of an accepted head.
func checkResumedRequest(t *testing.T, data []byte, one *Request, n int, err error) {
	half := len(data) / 2
	var r Request
	_, herr := ParseRequest(data[:half], &r)
	if herr == ErrNeedMore {
		n2, err2 := ParseRequest(data, &r)
		if err2 != err || n2 != n {
			t.Fatalf("resumed at %d: n, err = %d, %v; one-shot %d, %v", half, n2, err2, n, err)
		}
		if err == nil && !reflect.DeepEqual(&r, one) {
			t.Fatalf("resumed result differs")
		}
	} else if herr != err {
		t.Fatalf("prefix %d: err %v; whole input %v", half, herr, err)
	}
	if err == nil {
		for _, k := range []int{n - 1, n / 2} {
			var fresh Request
			if _, err := ParseRequest(data[:k], &fresh); err != ErrNeedMore {
				t.Fatalf("strict prefix %d of a %d-byte head: %v", k, n, err)
			}
		}
	}
}

// checkRequestResult checks invariants of an accepted head.
func checkRequestResult(t *testing.T, head []byte, r *Request) {
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		t.Fatalf("head does not end in CRLF CRLF: %q", head)
	}
	if r.NumHeaders > MaxHeaders {
		t.Fatalf("NumHeaders = %d", r.NumHeaders)
	}
	for _, h := range r.Headers[:r.NumHeaders] {
		if len(h.Name) == 0 || bytes.ContainsAny(h.Value, "\r\n\x00") {
			t.Fatalf("bad field %q: %q", h.Name, h.Value)
		}
		if v := h.Value; len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			t.Fatalf("untrimmed value %q", v)
		}
		if isLookAlikeRef(string(h.Name)) && h.ID != HdrTransferEncoding && h.ID != HdrContentLength {
			t.Fatalf("accepted a framing look-alike %q (ID %d)", h.Name, h.ID)
		}
	}
	if (r.Body == BodyLength) != (r.ContentLength >= 0) {
		t.Fatalf("Body %d with ContentLength %d", r.Body, r.ContentLength)
	}
	if !targetFormRef(string(r.Method), string(r.Target)) {
		t.Fatalf("accepted %s with a target of no form it may use: %q", r.Method, r.Target)
	}
}

// targetFormRef restates checkTarget plainly, for the fuzz invariant:
// origin-form for any method but CONNECT, "*" for OPTIONS, host:port for
// CONNECT, and an http(s) absolute-form with a host and no userinfo.
func targetFormRef(method, target string) bool {
	switch {
	case method == "CONNECT":
		host, port, err := net.SplitHostPort(target)
		if err != nil || host == "" || port == "" || strings.ContainsAny(target, "@/?#") {
			return false
		}
		return strings.Trim(port, "0123456789") == ""
	case target == "*":
		return method == "OPTIONS"
	case strings.HasPrefix(target, "/"):
		return true
	}
	lower := strings.ToLower(target)
	rest, ok := strings.CutPrefix(lower, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(lower, "https://"); !ok {
			return false
		}
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest != "" && rest[0] != ':' && !strings.ContainsAny(rest, "@#")
}

// isFramingErr reports whether a net/http error is about message framing.
func isFramingErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Content-Length") || strings.Contains(s, "transfer encoding")
}

// clListed reports whether a Content-Length value is a list, which PILB
// accepts when its elements are equal (RFC 9110 §8.6) and net/http does
// not.
func clListed(hs []Header) bool {
	for _, h := range hs {
		if h.ID == HdrContentLength && bytes.IndexByte(h.Value, ',') >= 0 {
			return true
		}
	}
	return false
}

// teEmptyElement reports whether a Transfer-Encoding value has an empty
// list element ("chunked,"), which RFC 9110 §5.6.1 has a recipient ignore
// and net/http refuses. PILB reads it as the one coding it names, and
// sends the backend its own canonical "Transfer-Encoding: chunked", so no
// backend sees the list.
func teEmptyElement(hs []Header) bool {
	for _, h := range hs {
		if h.ID != HdrTransferEncoding {
			continue
		}
		for _, e := range bytes.Split(h.Value, []byte(",")) {
			if len(bytes.Trim(e, " \t")) == 0 {
				return true
			}
		}
	}
	return false
}

func diffNetHTTPRequest(t *testing.T, data []byte, r *Request, err error) {
	req, gerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if gerr != nil {
		if err == nil && isFramingErr(gerr) && !clListed(r.Headers[:r.NumHeaders]) && !teEmptyElement(r.Headers[:r.NumHeaders]) {
			t.Fatalf("net/http rejects the framing (%v), PILB accepts", gerr)
		}
		return
	}
	if err != nil {
		return
	}
	if string(r.Method) != req.Method || string(r.Target) != req.RequestURI {
		t.Fatalf("method, target = %q %q; net/http %q %q", r.Method, r.Target, req.Method, req.RequestURI)
	}
	if r.Minor != req.ProtoMinor || req.ProtoMajor != 1 {
		t.Fatalf("minor %d; net/http %d.%d", r.Minor, req.ProtoMajor, req.ProtoMinor)
	}
	// net/http moves Host out of the map, edits Content-Length and
	// Transfer-Encoding, and adds Cache-Control for Pragma: no-cache.
	skip := map[string]bool{"host": true, "content-length": true, "transfer-encoding": true, "cache-control": true}
	compareFields(t, r.Headers[:r.NumHeaders], req.Header, skip)
	if r.Host != nil && r.Target[0] == '/' && string(r.Host) != req.Host {
		t.Fatalf("Host %q; net/http %q", r.Host, req.Host)
	}
	switch r.Body {
	case BodyLength:
		if req.ContentLength != r.ContentLength {
			t.Fatalf("ContentLength %d; net/http %d", r.ContentLength, req.ContentLength)
		}
	case BodyChunked:
		if req.ContentLength != -1 || len(req.TransferEncoding) != 1 {
			t.Fatalf("chunked; net/http ContentLength %d, TE %q", req.ContentLength, req.TransferEncoding)
		}
	case BodyNone:
		if req.ContentLength != 0 {
			t.Fatalf("no body; net/http ContentLength %d", req.ContentLength)
		}
	}
	if r.KeepAlive == req.Close {
		t.Fatalf("KeepAlive %v; net/http Close %v", r.KeepAlive, req.Close)
	}
}

// compareFields compares the values of each field name, in order, with
// net/http's map of canonical keys.
func compareFields(t *testing.T, hs []Header, gh http.Header, skip map[string]bool) {
	ours := map[string][]string{}
	for _, h := range hs {
		k := strings.ToLower(string(h.Name))
		ours[k] = append(ours[k], string(h.Value))
	}
	theirs := map[string][]string{}
	for k, v := range gh {
		theirs[strings.ToLower(k)] = append(theirs[strings.ToLower(k)], v...)
	}
	for k := range skip {
		delete(ours, k)
		delete(theirs, k)
	}
	if !reflect.DeepEqual(ours, theirs) {
		t.Fatalf("fields differ:\n ours    %q\n net/http %q", ours, theirs)
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add([]byte(c.in), c.head)
	}
	f.Add([]byte(benchResponse), false)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		var one Response
		n, err := ParseResponse(data, &one, head)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("n, err = %d, %v for %d bytes", n, err, len(data))
		}
		stale := Response{Scanned: len(data) / 3}
		if n, _ := ParseResponse(data, &stale, head); n < 0 || n > len(data) {
			t.Fatalf("stale Scanned: n = %d", n)
		}
		half := len(data) / 2
		var r Response
		if _, herr := ParseResponse(data[:half], &r, head); herr == ErrNeedMore {
			n2, err2 := ParseResponse(data, &r, head)
			if err2 != err || n2 != n || (err == nil && !reflect.DeepEqual(&r, &one)) {
				t.Fatalf("resumed at %d: n, err = %d, %v; one-shot %d, %v", half, n2, err2, n, err)
			}
		} else if herr != err {
			t.Fatalf("prefix %d: err %v; whole input %v", half, herr, err)
		}
		if err == nil {
			var fresh Response
			if _, err := ParseResponse(data[:n-1], &fresh, head); err != ErrNeedMore {
				t.Fatalf("strict prefix of the head: %v", err)
			}
			if one.Body == BodyUntilClose && one.KeepAlive {
				t.Fatalf("keep-alive with a body delimited by close")
			}
			for _, h := range one.Headers[:one.NumHeaders] {
				exact := h.ID == HdrTransferEncoding || h.ID == HdrContentLength
				if isLookAlikeRef(string(h.Name)) && !exact && (h.ID != HdrFramingLookAlike || !h.Hop) {
					t.Fatalf("response look-alike %q: ID %d, Hop %v", h.Name, h.ID, h.Hop)
				}
			}
		}

		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, gerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
		if gerr != nil {
			// Only Content-Length: net/http supports no transfer coding
			// but chunked in responses, where RFC 9112 §6.3 allows any.
			if err == nil && strings.Contains(gerr.Error(), "Content-Length") && !clListed(one.Headers[:one.NumHeaders]) {
				t.Fatalf("net/http rejects the framing (%v), PILB accepts", gerr)
			}
			return
		}
		if err != nil {
			return
		}
		if resp.StatusCode != one.Status || resp.ProtoMinor != one.Minor {
			t.Fatalf("status %d, minor %d; net/http %d, %d", one.Status, one.Minor, resp.StatusCode, resp.ProtoMinor)
		}
		compareFields(t, one.Headers[:one.NumHeaders], resp.Header,
			map[string]bool{"content-length": true, "transfer-encoding": true, "connection": true})
		if one.Body == BodyLength && resp.ContentLength != one.ContentLength {
			t.Fatalf("ContentLength %d; net/http %d", one.ContentLength, resp.ContentLength)
		}
	})
}

func FuzzChunked(f *testing.F) {
	for _, c := range chunkCases {
		if len(c.in) < 1024 {
			f.Add([]byte(c.in+chunkNext), uint8(0))
			f.Add([]byte(c.in), uint8(3))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		end, err := scanAll(data, 0)
		if end > len(data) || (err == nil) != (end >= 0) {
			t.Fatalf("end, err = %d, %v", end, err)
		}
		payload, dend, derr := decodeAll(data, 0)
		// Pieces of one byte, and of the fuzzed size.
		for _, s := range []int{1, int(step)} {
			e2, err2 := scanAll(data, s)
			p2, d2, derr2 := decodeAll(data, s)
			if e2 != end || err2 != err || d2 != dend || derr2 != derr || !bytes.Equal(p2, payload) {
				t.Fatalf("pieces of %d: %d %v %d %v; one piece: %d %v %d %v",
					s, e2, err2, d2, derr2, end, err, dend, derr)
			}
		}
		if dend != end || derr != err {
			t.Fatalf("Decode %d, %v; Scan %d, %v", dend, derr, end, err)
		}
		if err != nil {
			return
		}
		// net/http's chunked reader (without the trailer, which
		// net/http reads itself) must find the same payload.
		got, gerr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data[:end])))
		if gerr == nil && !bytes.Equal(got, payload) {
			t.Fatalf("payload %q; net/http %q", payload, got)
		}
	})
}
