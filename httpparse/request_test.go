package httpparse

import (
	"strings"
	"testing"
)

func TestParseRequestBasic(t *testing.T) {
	in := "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\nConnection: keep-alive, X-Foo\r\nX-Foo: bar\r\nContent-Length: 5\r\n\r\nhello"
	var r Request
	n, err := ParseRequest([]byte(in), &r)
	if err != nil {
		t.Fatal(err)
	}
	if n != strings.Index(in, "hello") {
		t.Fatalf("n=%d", n)
	}
	if string(r.Method) != "GET" || string(r.Target) != "/index.html?q=1" || r.Minor != 1 || string(r.Host) != "example.com" {
		t.Fatalf("%q %q %d %q", r.Method, r.Target, r.Minor, r.Host)
	}
	if r.NumHeaders != 5 || r.Body != BodyLength || r.ContentLength != 5 || !r.KeepAlive {
		t.Fatalf("%+v", r)
	}
	for _, h := range r.Headers[:r.NumHeaders] {
		t.Logf("%q %q id=%d hop=%v", h.Name, h.Value, h.ID, h.Hop)
	}
}
