package engine

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pilb-proxy/pilb/httpparse"
)

func TestAppendRequestHead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{{
		name: "plain GET keeps end-to-end fields and adds proxy fields",
		in:   "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
		want: "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "hop-by-hop fields and those named in Connection are dropped",
		in: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n" +
			"X-Secret: 1\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nX-Kept: 2\r\n\r\n",
		want: "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 2\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "X-Forwarded-For lines are joined and the client appended; X-Forwarded-Proto replaced",
		in:   "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nx-forwarded-for: 5.6.7.8, 9.9.9.9\r\n\r\n",
		want: "GET / HTTP/1.1\r\nHost: h\r\n" +
			"X-Forwarded-For: 1.2.3.4, 5.6.7.8, 9.9.9.9, 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "HTTP/1.0 goes up as 1.1, Via says 1.0, a missing Host is added empty",
		in:   "GET /x HTTP/1.0\r\nUser-Agent: old\r\n\r\n",
		want: "GET /x HTTP/1.1\r\nUser-Agent: old\r\nHost: \r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.0 pilb\r\n\r\n",
	}, {
		name: "absolute-form without Host gets the target's authority",
		in:   "GET http://Example.org:81/p?q HTTP/1.0\r\n\r\n",
		want: "GET http://Example.org:81/p?q HTTP/1.1\r\nHost: Example.org:81\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.0 pilb\r\n\r\n",
	}, {
		name: "Content-Length is rewritten once in canonical form",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
		want: "POST / HTTP/1.1\r\nHost: h\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\nContent-Length: 5\r\n\r\n",
	}, {
		name: "chunked framing is re-added after the hop-by-hop Transfer-Encoding is dropped",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: "POST / HTTP/1.1\r\nHost: h\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\nTransfer-Encoding: chunked\r\n\r\n",
	}, {
		name: "an upgrade keeps Upgrade and says Connection: Upgrade",
		in:   "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
		want: "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\nConnection: Upgrade\r\n\r\n",
	}, {
		name: "Host named in Connection is kept: the upstream request needs it",
		in:   "GET / HTTP/1.1\r\nHost: h\r\nConnection: host\r\n\r\n",
		want: "GET / HTTP/1.1\r\nHost: h\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "Upgrade without Connection: upgrade is hop-by-hop and dropped",
		in:   "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
		want: "GET / HTTP/1.1\r\nHost: h\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nVia: 1.1 pilb\r\n\r\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r httpparse.Request
			if _, err := httpparse.ParseRequest([]byte(tt.in), &r); err != nil {
				t.Fatal(err)
			}
			got := string(appendRequestHead(nil, &r, netip.MustParseAddr("192.0.2.7"), "http"))
			if got != tt.want {
				t.Errorf("head\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAppendResponseHead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		head bool
		f    respFraming
		want string
	}{{
		name: "length body keeps Content-Length and drops hop-by-hop fields",
		in:   "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: X-Bar\r\nX-Bar: 1\r\nKeep-Alive: timeout=5\r\nServer: s1\r\n\r\n",
		want: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: s1\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "chunked to a 1.1 client re-adds Transfer-Encoding and keeps Trailer",
		in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n",
		want: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "a coding before chunked is kept when the body is forwarded as it is",
		in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "chunked to a 1.0 client is de-chunked and closed",
		in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n",
		f:    respFraming{dechunk: true, closeClient: true},
		want: "HTTP/1.1 200 OK\r\nVia: 1.1 pilb\r\nConnection: close\r\n\r\n",
	}, {
		name: "a 1.0 backend's status line is answered as 1.1, Via says 1.0",
		in:   "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		f:    respFraming{keepAlive10: true},
		want: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nVia: 1.0 pilb\r\nConnection: keep-alive\r\n\r\n",
	}, {
		name: "HEAD keeps the Content-Length of the body it does not send",
		in:   "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
		head: true,
		want: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nVia: 1.1 pilb\r\n\r\n",
	}, {
		name: "101 keeps Upgrade",
		in:   "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: a\r\n\r\n",
		f:    respFraming{upgrade: true},
		want: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: a\r\nVia: 1.1 pilb\r\nConnection: Upgrade\r\n\r\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r httpparse.Response
			if _, err := httpparse.ParseResponse([]byte(tt.in), &r, tt.head); err != nil {
				t.Fatal(err)
			}
			got := string(appendResponseHead(nil, &r, tt.f))
			if got != tt.want {
				t.Errorf("head\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTargetAuthority(t *testing.T) {
	for target, want := range map[string]string{
		"/":                   "",
		"*":                   "",
		"http://a.b":          "a.b",
		"HTTPS://a.b:8443/x":  "a.b:8443",
		"http://h?q":          "h",
		"httpx://h/":          "",
		"example.com:443":     "",
		"http://[::1]:80/p#f": "[::1]:80",
	} {
		if got := string(targetAuthority([]byte(target))); got != want {
			t.Errorf("targetAuthority(%q) = %q, want %q", target, got, want)
		}
	}
}

func TestErrorResponse(t *testing.T) {
	r := string(errorResponse(503, true, false))
	if !strings.HasPrefix(r, "HTTP/1.1 503 Service Unavailable\r\n") || !strings.Contains(r, "Connection: close\r\n") ||
		!strings.HasSuffix(r, "\r\n\r\n503 Service Unavailable\n") {
		t.Fatalf("503: %q", r)
	}
	if strings.Contains(string(errorResponse(502, false, false)), "Connection:") {
		t.Fatal("keep-alive 502 says Connection")
	}
	// The answer to HEAD: the same head, Content-Length kept, no body;
	// also for a code outside the table.
	for _, code := range []int{504, 418} {
		full, head := string(errorResponse(code, false, false)), string(errorResponse(code, false, true))
		if !strings.HasSuffix(head, "\r\n\r\n") || !strings.HasPrefix(full, head) || len(full) <= len(head) ||
			!strings.Contains(head, "Content-Length: ") {
			t.Fatalf("%d to HEAD: %q (full %q)", code, head, full)
		}
	}
}
