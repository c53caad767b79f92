package httpparse

import "testing"

func TestParseResponseBasic(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	var r Response
	n, err := ParseResponse([]byte(in), &r, false)
	if err != nil {
		t.Fatal(err)
	}
	if in[n:] != "0\r\n\r\n" || r.Status != 200 || string(r.Reason) != "OK" || r.Body != BodyChunked || !r.KeepAlive || r.NumHeaders != 2 {
		t.Fatalf("n=%d %+v", n, r)
	}
}
