package httpparse

import (
	"reflect"
	"strings"
	"testing"
)

// reqCase is one ParseRequest input with the error it must give, and for
// a success an optional check of the result.
type reqCase struct {
	name   string
	in     string
	limits Limits
	err    error
	check  func(t *testing.T, r *Request)
}

// get builds a request with the given request-line and field lines.
func get(line string, fields ...string) string {
	return line + "\r\n" + strings.Join(append(fields, ""), "\r\n") + "\r\n"
}

// h11 builds an HTTP/1.1 GET of / with Host and the given field lines.
func h11(fields ...string) string {
	return get("GET / HTTP/1.1", append([]string{"Host: a"}, fields...)...)
}

func wantBody(kind BodyKind, cl int64) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		if r.Body != kind || r.ContentLength != cl {
			t.Errorf("Body, ContentLength = %d, %d; want %d, %d", r.Body, r.ContentLength, kind, cl)
		}
	}
}

func wantValue(name, value string) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		for _, h := range r.Headers[:r.NumHeaders] {
			if EqualFoldASCII(h.Name, strings.ToLower(name)) {
				if string(h.Value) != value {
					t.Errorf("%s = %q; want %q", name, h.Value, value)
				}
				return
			}
		}
		t.Errorf("no %s field", name)
	}
}

func wantFlags(keepAlive, upgrade, expect100 bool) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		if r.KeepAlive != keepAlive || r.Upgrade != upgrade || r.Expect100 != expect100 {
			t.Errorf("KeepAlive, Upgrade, Expect100 = %v, %v, %v; want %v, %v, %v",
				r.KeepAlive, r.Upgrade, r.Expect100, keepAlive, upgrade, expect100)
		}
	}
}

// Each attack case sits right after its legitimate twin.
var requestCases = []reqCase{
	// Request line, RFC 9112 §3.
	{name: "plain", in: h11(), check: func(t *testing.T, r *Request) {
		if string(r.Method) != "GET" || string(r.Target) != "/" || string(r.Version) != "HTTP/1.1" || r.Minor != 1 {
			t.Errorf("line = %q %q %q %d", r.Method, r.Target, r.Version, r.Minor)
		}
	}},
	{name: "extension method token", in: get("M-SEARCH / HTTP/1.1", "Host: a")},
	{name: "method not a token", in: get("GE(T / HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "empty method", in: get(" / HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "two SPs after method", in: get("GET  / HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "two SPs after target", in: get("GET /  HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "SP after version", in: get("GET / HTTP/1.1 ", "Host: a"), err: ErrBadRequestLine},
	{name: "HTAB as separator", in: get("GET\t/ HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "no target", in: get("GET HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "target with query", in: get("GET /a?b=c&d=%20|{} HTTP/1.1", "Host: a"), check: func(t *testing.T, r *Request) {
		if string(r.Target) != "/a?b=c&d=%20|{}" {
			t.Errorf("Target = %q", r.Target)
		}
	}},
	{name: "target with CTL", in: get("GET /a\x01b HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "target with DEL", in: get("GET /a\x7fb HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "target with NUL", in: get("GET /a\x00b HTTP/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "target percent-encoded UTF-8", in: get("GET /%C3%A9 HTTP/1.1", "Host: a")},
	{name: "target raw UTF-8", in: get("GET /\xc3\xa9 HTTP/1.1", "Host: a"), err: ErrBadRequestLine},

	// Request-target forms, RFC 9112 §3.2, and the methods that may use
	// them.
	{name: "origin-form", in: get("GET /! HTTP/1.1", "Host: a")},
	{name: "no form: !", in: get("GET ! HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "origin-form /foo", in: get("GET /foo HTTP/1.1", "Host: a")},
	{name: "no form: foo", in: get("GET foo HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "no form: foo/bar", in: get("GET foo/bar HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "origin-form query", in: get("GET /?a=b HTTP/1.1", "Host: a")},
	{name: "no form: query alone", in: get("GET ?a=b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "no form: encoded slash", in: get("GET %2Fa HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "origin-form double slash", in: get("GET //a HTTP/1.1", "Host: a")},
	{name: "no form, checked before the fields", in: get("GET ! HTTP/1.1", "X: a\x00"), err: ErrBadTarget},
	{name: "no form, version checked first", in: get("GET ! HTTP/2.0", "Host: a"), err: ErrUnsupportedVersion},
	{name: "OPTIONS asterisk-form", in: get("OPTIONS * HTTP/1.1", "Host: a")},
	{name: "GET asterisk-form", in: get("GET * HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "M-SEARCH asterisk-form", in: get("M-SEARCH * HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "lower-case options asterisk-form", in: get("options * HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "OPTIONS **", in: get("OPTIONS ** HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "OPTIONS *x", in: get("OPTIONS *x HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "OPTIONS origin-form", in: get("OPTIONS /a HTTP/1.1", "Host: a")},
	{name: "OPTIONS no form", in: get("OPTIONS foo HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "OPTIONS absolute-form", in: get("OPTIONS http://a HTTP/1.1", "Host: a")},
	{name: "absolute-form target", in: get("GET http://a/b HTTP/1.1", "Host: a")},
	{name: "absolute-form https, any case, port, query", in: get("GET HTTPS://A.example:443/b?c=d HTTP/1.1", "Host: a.EXAMPLE")},
	{name: "absolute-form empty path", in: get("GET http://a HTTP/1.1", "Host: a")},
	{name: "absolute-form query after authority", in: get("GET http://a?x=1 HTTP/1.1", "Host: a")},
	{name: "absolute-form empty port", in: get("GET http://a:/ HTTP/1.1", "Host: a")},
	{name: "absolute-form IPv6", in: get("GET http://[::1]:8080/ HTTP/1.1", "Host: [::1]:8080")},
	{name: "absolute-form pct-encoded host", in: get("GET http://a%2Db/ HTTP/1.1", "Host: a%2Db")},
	{name: "absolute-form sub-delims in host", in: get("GET http://a!$&'()*+,;=b/ HTTP/1.1", "Host: a!$&'()*+,;=b")},
	// Host must name the target's authority (RFC 9112 §3.2.2), case and
	// a default port aside; each refusal beside its twin.
	{name: "absolute-form Host with default port", in: get("GET http://a.example/ HTTP/1.1", "Host: a.example:80")},
	{name: "absolute-form https Host with default port", in: get("GET https://a.example:443/ HTTP/1.1", "Host: a.example")},
	{name: "absolute-form Host of another host", in: get("GET http://a.example/ HTTP/1.1", "Host: b.example"), err: ErrHostMismatch},
	{name: "absolute-form Host of another port", in: get("GET http://a.example:8080/ HTTP/1.1", "Host: a.example"), err: ErrHostMismatch},
	{name: "absolute-form https Host with http's default port", in: get("GET https://a.example/ HTTP/1.1", "Host: a.example:80"), err: ErrHostMismatch},
	{name: "absolute-form Host with a path", in: get("GET http://a.example/x HTTP/1.1", "Host: a.example/x"), err: ErrHostMismatch},
	{name: "ftp scheme", in: get("GET ftp://a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "ws scheme", in: get("GET ws://a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "httpx scheme", in: get("GET httpx://a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "http: one slash", in: get("GET http:/a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "http: no authority", in: get("GET http:a HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "empty host", in: get("GET http:///a HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "nothing after the scheme", in: get("GET http:// HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "empty host with port", in: get("GET http://:80/a HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "userinfo", in: get("GET http://u@a/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "userinfo with password", in: get("GET http://u:p@evil/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "bad port", in: get("GET http://a:8o/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "unclosed IPv6", in: get("GET http://[::1/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "empty IP-literal", in: get("GET http://[]/b HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "text after IP-literal", in: get("GET http://[::1]x/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "fragment in authority", in: get("GET http://a#f HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "bad pct-encoding in host", in: get("GET http://a%zz/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "short pct-encoding in host", in: get("GET http://a%2 HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "quote in host", in: get("GET http://a\"b/ HTTP/1.1", "Host: a"), err: ErrBadTarget},
	{name: "CONNECT authority-form", in: get("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443")},
	{name: "CONNECT IPv6", in: get("CONNECT [2001:db8::1]:443 HTTP/1.1", "Host: [2001:db8::1]:443")},
	{name: "CONNECT IPv4", in: get("CONNECT 10.0.0.1:80 HTTP/1.1", "Host: 10.0.0.1:80")},
	{name: "CONNECT without port", in: get("CONNECT example.com HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT empty port", in: get("CONNECT example.com: HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT without host", in: get("CONNECT :443 HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT userinfo", in: get("CONNECT u@example.com:443 HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT with path", in: get("CONNECT example.com:443/x HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT origin-form", in: get("CONNECT / HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT absolute-form", in: get("CONNECT http://example.com/ HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "CONNECT asterisk-form", in: get("CONNECT * HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "GET authority-form", in: get("GET example.com:443 HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "OPTIONS authority-form", in: get("OPTIONS example.com:443 HTTP/1.1", "Host: example.com"), err: ErrBadTarget},
	{name: "lower-case connect authority-form", in: get("connect example.com:443 HTTP/1.1", "Host: example.com"), err: ErrBadTarget},

	{name: "HTTP/1.0", in: get("GET / HTTP/1.0"), check: func(t *testing.T, r *Request) {
		if r.Minor != 0 || r.Host != nil {
			t.Errorf("Minor, Host = %d, %q", r.Minor, r.Host)
		}
	}},
	{name: "HTTP/2.0", in: get("GET / HTTP/2.0", "Host: a"), err: ErrUnsupportedVersion},
	{name: "HTTP/1.2", in: get("GET / HTTP/1.2", "Host: a"), err: ErrUnsupportedVersion},
	{name: "HTTP/3", in: get("GET / HTTP/3", "Host: a"), err: ErrUnsupportedVersion},
	{name: "HTTP/0.9", in: get("GET / HTTP/0.9", "Host: a"), err: ErrUnsupportedVersion},
	{name: "HTTX/1.1", in: get("GET / HTTX/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "lower-case version", in: get("GET / http/1.1", "Host: a"), err: ErrBadRequestLine},
	{name: "HTTP/1.10", in: get("GET / HTTP/1.10", "Host: a"), err: ErrBadRequestLine},
	{name: "HTTP/1", in: get("GET / HTTP/1", "Host: a"), err: ErrUnsupportedVersion},
	{name: "version missing", in: get("GET /", "Host: a"), err: ErrBadRequestLine},
	{name: "target at the limit", in: get("GET /"+strings.Repeat("a", 15)+" HTTP/1.1", "Host: a"), limits: Limits{MaxTargetBytes: 16}},
	{name: "target over the limit", in: get("GET /"+strings.Repeat("a", 16)+" HTTP/1.1", "Host: a"), limits: Limits{MaxTargetBytes: 16}, err: ErrTargetTooLong},
	{name: "default target limit", in: get("GET /"+strings.Repeat("a", DefaultMaxTargetBytes-1)+" HTTP/1.1", "Host: a")},
	{name: "default target limit exceeded", in: get("GET /"+strings.Repeat("a", DefaultMaxTargetBytes)+" HTTP/1.1", "Host: a"), err: ErrTargetTooLong},
	{name: "target over the limit, line incomplete", in: "GET /" + strings.Repeat("a", 16), limits: Limits{MaxTargetBytes: 16}, err: ErrTargetTooLong},
	{name: "target at the limit, line incomplete", in: "GET /" + strings.Repeat("a", 15), limits: Limits{MaxTargetBytes: 16}, err: ErrNeedMore},

	// Leading empty lines, RFC 9112 §2.2.
	{name: "one leading CRLF", in: "\r\n" + h11()},
	{name: "eight leading CRLFs", in: strings.Repeat("\r\n", 8) + h11()},
	{name: "nine leading CRLFs", in: strings.Repeat("\r\n", 9) + h11(), err: ErrBadRequestLine},
	{name: "leading bare LF", in: "\n" + h11(), err: ErrBareLF},
	{name: "leading bare CR", in: "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadRequestLine},

	// Line ends, RFC 9112 §2.2.
	{name: "bare LF after request line", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", err: ErrBareLF},
	{name: "bare LF after field", in: "GET / HTTP/1.1\r\nHost: a\n\r\n", err: ErrBareLF},
	{name: "bare LF as end of head", in: "GET / HTTP/1.1\r\nHost: a\r\n\n", err: ErrBareLF},
	{name: "bare LF in target", in: "GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBareLF},
	{name: "bare CR after version", in: "GET / HTTP/1.1\rHost: a\r\n\r\n", err: ErrBadRequestLine},
	{name: "bare CR in value", in: h11("X: a\rb"), err: ErrBadHeader},
	{name: "bare CR as line start", in: h11("\rX: a"), err: ErrBadHeader},

	// Field lines, RFC 9112 §5 and RFC 9110 §5.
	{name: "field", in: h11("X-A: b"), check: wantValue("x-a", "b")},
	{name: "SP before colon", in: h11("X-A : b"), err: ErrBadHeader},
	{name: "HTAB before colon", in: h11("X-A\t: b"), err: ErrBadHeader},
	{name: "Host SP before colon", in: get("GET / HTTP/1.1", "Host : a"), err: ErrBadHeader},
	{name: "obs-fold", in: h11("X-A: b", " c"), err: ErrBadHeader},
	{name: "obs-fold HTAB", in: h11("X-A: b", "\tc"), err: ErrBadHeader},
	{name: "whitespace before first field", in: get("GET / HTTP/1.1", " Host: a"), err: ErrBadHeader},
	{name: "empty name", in: h11(": b"), err: ErrBadHeader},
	{name: "no colon", in: h11("X-A b"), err: ErrBadHeader},
	{name: "name not a token", in: h11("X(A): b"), err: ErrBadHeader},
	{name: "name with obs-text", in: h11("X\xe9: b"), err: ErrBadHeader},
	{name: "OWS trimmed", in: h11("X-A: \t b c \t "), check: wantValue("x-a", "b c")},
	{name: "no OWS", in: h11("X-A:b"), check: wantValue("x-a", "b")},
	{name: "empty value", in: h11("X-A:"), check: wantValue("x-a", "")},
	{name: "only OWS", in: h11("X-A: \t "), check: wantValue("x-a", "")},
	{name: "HTAB inside value", in: h11("X-A: b\tc"), check: wantValue("x-a", "b\tc")},
	{name: "obs-text value", in: h11("X-A: caf\xc3\xa9 \xff"), check: wantValue("x-a", "caf\xc3\xa9 \xff")},
	{name: "long value", in: h11("X-A: " + strings.Repeat("abcdefgh", 40) + "xyz"), check: wantValue("x-a", strings.Repeat("abcdefgh", 40)+"xyz")},
	{name: "NUL in value", in: h11("X-A: b\x00c"), err: ErrBadHeader},
	{name: "NUL deep in long value", in: h11("X-A: " + strings.Repeat("abcdefgh", 40) + "\x00"), err: ErrBadHeader},
	{name: "CTL in value", in: h11("X-A: b\x01c"), err: ErrBadHeader},
	{name: "ESC in value", in: h11("X-A: b\x1bc"), err: ErrBadHeader},
	{name: "DEL in value", in: h11("X-A: b\x7fc"), err: ErrBadHeader},
	{name: "DEL in long value", in: h11("X-A: abcdefgh\x7fijklmnop"), err: ErrBadHeader},
	{name: "headers at the limit", in: h11("A: 1", "B: 2"), limits: Limits{MaxHeaders: 3}, check: func(t *testing.T, r *Request) {
		if r.NumHeaders != 3 {
			t.Errorf("NumHeaders = %d", r.NumHeaders)
		}
	}},
	{name: "headers over the limit", in: h11("A: 1", "B: 2", "C: 3"), limits: Limits{MaxHeaders: 3}, err: ErrTooManyHeaders},
	{name: "MaxHeaders fields", in: h11(repeatFields(MaxHeaders - 1)...)},
	{name: "MaxHeaders+1 fields", in: h11(repeatFields(MaxHeaders)...), err: ErrTooManyHeaders},
	{name: "head at the limit", in: h11("X: " + strings.Repeat("a", 64-len(h11("X: ")))), limits: Limits{MaxHeadBytes: 64}},
	{name: "complete head over the limit", in: h11("X: " + strings.Repeat("a", 65-len(h11("X: ")))), limits: Limits{MaxHeadBytes: 64}, err: ErrHeadTooLarge},
	{name: "incomplete head over the limit", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 64), limits: Limits{MaxHeadBytes: 64}, err: ErrHeadTooLarge},
	{name: "incomplete head under the limit", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 30), limits: Limits{MaxHeadBytes: 64}, err: ErrNeedMore},
	{name: "incomplete request line over the limit", in: strings.Repeat("G", 64), limits: Limits{MaxHeadBytes: 64}, err: ErrHeadTooLarge},

	// Header IDs, case-insensitively.
	{name: "IDs", in: get("GET / HTTP/1.1", "hOST: a", "content-LENGTH: 0", "CONNECTION: x", "Keep-Alive: 1", "proxy-connection: 1",
		"te: trailers", "Trailer: x", "upgrade: h2c", "Proxy-Authenticate: b", "Proxy-Authorization: c", "Expect: x",
		"x-forwarded-for: 1.2.3.4", "X-Forwarded-Proto: https", "VIA: 1.1 p", "Other: o", "Hostx: y", "Content-Lengtg: 1"),
		check: func(t *testing.T, r *Request) {
			want := []HeaderID{HdrHost, HdrContentLength, HdrConnection, HdrKeepAlive, HdrProxyConnection, HdrTE, HdrTrailer,
				HdrUpgrade, HdrProxyAuthenticate, HdrProxyAuthorization, HdrExpect, HdrXForwardedFor, HdrXForwardedProto, HdrVia,
				HdrOther, HdrOther, HdrOther}
			for i, id := range want {
				if r.Headers[i].ID != id {
					t.Errorf("ID of %q = %d; want %d", r.Headers[i].Name, r.Headers[i].ID, id)
				}
			}
		}},

	// Host, RFC 9112 §3.2.
	{name: "Host", in: h11(), check: func(t *testing.T, r *Request) {
		if string(r.Host) != "a" {
			t.Errorf("Host = %q", r.Host)
		}
	}},
	{name: "missing Host", in: get("GET / HTTP/1.1", "X: a"), err: ErrMissingHost},
	{name: "missing Host in 1.0", in: get("GET / HTTP/1.0", "X: a")},
	{name: "empty Host", in: get("GET / HTTP/1.1", "Host:"), check: func(t *testing.T, r *Request) {
		if r.Host == nil || len(r.Host) != 0 {
			t.Errorf("Host = %q (nil %v)", r.Host, r.Host == nil)
		}
	}},
	{name: "two Hosts", in: h11("Host: b"), err: ErrDuplicateHost},
	{name: "two equal Hosts", in: h11("Host: a"), err: ErrDuplicateHost},
	{name: "two Hosts in 1.0", in: get("GET / HTTP/1.0", "Host: a", "hOST: b"), err: ErrDuplicateHost},

	// Content-Length, RFC 9110 §8.6 and RFC 9112 §6.3.
	{name: "CL", in: h11("Content-Length: 5"), check: wantBody(BodyLength, 5)},
	{name: "CL plus sign", in: h11("Content-Length: +5"), err: ErrBadContentLength},
	{name: "CL minus sign", in: h11("Content-Length: -5"), err: ErrBadContentLength},
	{name: "CL hex", in: h11("Content-Length: 0x5"), err: ErrBadContentLength},
	{name: "CL inner space", in: h11("Content-Length: 5 5"), err: ErrBadContentLength},
	{name: "CL OWS", in: h11("Content-Length: \t5 "), check: wantBody(BodyLength, 5)},
	{name: "CL empty", in: h11("Content-Length:"), err: ErrBadContentLength},
	{name: "CL zero", in: h11("Content-Length: 0"), check: wantBody(BodyLength, 0)},
	{name: "CL max int64", in: h11("Content-Length: 9223372036854775807"), check: wantBody(BodyLength, 1<<63-1)},
	{name: "CL int64 overflow", in: h11("Content-Length: 9223372036854775808"), err: ErrBadContentLength},
	{name: "CL huge", in: h11("Content-Length: 99999999999999999999999"), err: ErrBadContentLength},
	{name: "CL list of equal values", in: h11("Content-Length: 5, 5 ,5"), check: wantBody(BodyLength, 5)},
	{name: "CL list of differing values", in: h11("Content-Length: 5, 6"), err: ErrBadContentLength},
	{name: "CL list with empty element", in: h11("Content-Length: 5,"), err: ErrBadContentLength},
	{name: "CL lines equal", in: h11("Content-Length: 5", "content-length: 5"), check: wantBody(BodyLength, 5)},
	{name: "CL lines differing", in: h11("Content-Length: 5", "Content-Length: 6"), err: ErrBadContentLength},
	{name: "CL lines same value other digits", in: h11("Content-Length: 5", "Content-Length: 05"), err: ErrBadContentLength},
	{name: "CL leading zeros", in: h11("Content-Length: 0005"), check: wantBody(BodyLength, 5)},

	// Transfer-Encoding, RFC 9112 §6.1, §6.3, §7.
	{name: "chunked", in: h11("Transfer-Encoding: chunked"), check: wantBody(BodyChunked, -1)},
	{name: "chunked any case", in: h11("transfer-encoding: ChUnKeD"), check: wantBody(BodyChunked, -1)},
	// RFC 9110 §5.6.1: empty list elements are ignored (net/http refuses
	// them; the engine sends its own canonical Transfer-Encoding anyway).
	{name: "chunked with an empty list element", in: h11("Transfer-Encoding: Chunked,"), check: wantBody(BodyChunked, -1)},
	{name: "gzip, chunked", in: h11("Transfer-Encoding: gzip, chunked"), err: ErrUnsupportedTransferCoding},
	{name: "chunked, gzip", in: h11("Transfer-Encoding: chunked, gzip"), err: ErrUnsupportedTransferCoding},
	{name: "chunked twice", in: h11("Transfer-Encoding: chunked, chunked"), err: ErrUnsupportedTransferCoding},
	{name: "chunked on two lines", in: h11("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), err: ErrUnsupportedTransferCoding},
	{name: "gzip line then chunked line", in: h11("Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), err: ErrUnsupportedTransferCoding},
	{name: "empty element", in: h11("Transfer-Encoding: , chunked"), err: ErrUnsupportedTransferCoding},
	{name: "identity", in: h11("Transfer-Encoding: identity"), err: ErrUnsupportedTransferCoding},
	{name: "chunked with parameter", in: h11("Transfer-Encoding: chunked;q=1"), err: ErrUnsupportedTransferCoding},
	{name: "chunked misspelt", in: h11("Transfer-Encoding: chunke"), err: ErrUnsupportedTransferCoding},
	{name: "empty TE", in: h11("Transfer-Encoding:"), err: ErrUnsupportedTransferCoding},
	{name: "TE in 1.0", in: get("GET / HTTP/1.0", "Transfer-Encoding: chunked"), err: ErrTransferEncodingHTTP10},
	{name: "CL in 1.0", in: get("GET / HTTP/1.0", "Content-Length: 3"), check: wantBody(BodyLength, 3)},
	{name: "CL and TE", in: h11("Content-Length: 5", "Transfer-Encoding: chunked"), err: ErrConflictingFraming},
	{name: "TE and CL", in: h11("Transfer-Encoding: chunked", "Content-Length: 5"), err: ErrConflictingFraming},
	{name: "no body", in: h11(), check: wantBody(BodyNone, -1)},

	// Framing look-alikes (lookalike.go): names a backend may read as
	// Transfer-Encoding or Content-Length when PILB does not.
	{name: "TE with CL twin", in: h11("Transfer-Encoding: chunked"), check: wantBody(BodyChunked, -1)},
	{name: "Transfer_Encoding with CL", in: h11("Transfer_Encoding: chunked", "Content-Length: 5"), err: ErrFramingLookAlike},
	{name: "Transfer_Encoding alone", in: h11("Transfer_Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "TransferEncoding", in: h11("TransferEncoding: chunked"), err: ErrFramingLookAlike},
	{name: "TRANSFER_ENCODING", in: h11("TRANSFER_ENCODING: chunked"), err: ErrFramingLookAlike},
	{name: "transferencoding", in: h11("transferencoding: chunked"), err: ErrFramingLookAlike},
	{name: "Transfer.Encoding", in: h11("Transfer.Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "Transfer~Encoding", in: h11("Transfer~Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "Transfer--Encoding", in: h11("Transfer--Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "Transfer-Encoding_", in: h11("Transfer-Encoding_: chunked"), err: ErrFramingLookAlike},
	{name: "-Transfer-Encoding", in: h11("-Transfer-Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "spelt out with separators", in: h11("T!r#a$n%s&f'e*r+E.n^c_o`d|i~ng: chunked"), err: ErrFramingLookAlike},
	{name: "look-alike with any value", in: h11("Transfer_Encoding: gzip"), err: ErrFramingLookAlike},
	{name: "look-alike after the real TE", in: h11("Transfer-Encoding: chunked", "Transfer_Encoding: identity"), err: ErrFramingLookAlike},
	{name: "look-alike in 1.0", in: get("GET / HTTP/1.0", "Transfer_Encoding: chunked"), err: ErrFramingLookAlike},
	{name: "look-alike without Host", in: get("GET / HTTP/1.1", "TransferEncoding: chunked"), err: ErrFramingLookAlike},
	{name: "CL twin", in: h11("Content-Length: 5"), check: wantBody(BodyLength, 5)},
	{name: "Content_Length", in: h11("Content_Length: 5"), err: ErrFramingLookAlike},
	{name: "ContentLength", in: h11("ContentLength: 5"), err: ErrFramingLookAlike},
	{name: "content_length", in: h11("content_length: 5"), err: ErrFramingLookAlike},
	{name: "Content.Length", in: h11("Content.Length: 5"), err: ErrFramingLookAlike},
	{name: "Content-Length_", in: h11("Content-Length_: 5"), err: ErrFramingLookAlike},
	{name: "Content_Length beside Content-Length", in: h11("Content-Length: 5", "Content_Length: 5"), err: ErrFramingLookAlike},
	// Near misses: other names, which no server reads as framing.
	{name: "X-Transfer-Encoding", in: h11("X-Transfer-Encoding: chunked"), check: wantBody(BodyNone, -1)},
	{name: "Transfer-Encodings", in: h11("Transfer-Encodings: chunked"), check: wantBody(BodyNone, -1)},
	{name: "Transfer-Encoding-Hint", in: h11("Transfer-Encoding-Hint: chunked"), check: wantBody(BodyNone, -1)},
	{name: "Transfer_Encodin", in: h11("Transfer_Encodin: chunked"), check: wantBody(BodyNone, -1)},
	{name: "X-Content-Length", in: h11("X-Content-Length: 5"), check: wantBody(BodyNone, -1)},
	{name: "Content-Length-2", in: h11("Content-Length-2: 5"), check: wantBody(BodyNone, -1)},
	{name: "Content_Type", in: h11("Content_Type: text/plain"), check: wantValue("content_type", "text/plain")},
	{name: "Content-Lengt", in: h11("Content-Lengt: 5"), check: wantBody(BodyNone, -1)},
	{name: "Cache-Control", in: h11("Cache-Control: no-cache"), check: wantValue("cache-control", "no-cache")},

	// Connection management, RFC 9112 §9.3, RFC 9110 §7.8, §10.1.1.
	{name: "1.1 keep-alive", in: h11(), check: wantFlags(true, false, false)},
	{name: "1.1 close", in: h11("Connection: close"), check: wantFlags(false, false, false)},
	{name: "1.1 close in a list", in: h11("Connection: x-a, CLOSE", "X-A: 1"), check: wantFlags(false, false, false)},
	{name: "1.1 close on a second line", in: h11("Connection: keep-alive", "Connection: close"), check: wantFlags(false, false, false)},
	{name: "1.1 closed is not close", in: h11("Connection: closed"), check: wantFlags(true, false, false)},
	{name: "1.0 default", in: get("GET / HTTP/1.0"), check: wantFlags(false, false, false)},
	{name: "1.0 keep-alive", in: get("GET / HTTP/1.0", "Connection: Keep-Alive"), check: wantFlags(true, false, false)},
	{name: "upgrade", in: h11("Connection: Upgrade", "Upgrade: websocket"), check: wantFlags(true, true, false)},
	{name: "Upgrade without the option", in: h11("Upgrade: websocket"), check: wantFlags(true, false, false)},
	{name: "option without Upgrade", in: h11("Connection: upgrade"), check: wantFlags(true, false, false)},
	{name: "100-continue", in: h11("Expect: 100-Continue"), check: wantFlags(true, false, true)},
	{name: "other expectation", in: h11("Expect: 101-continue"), check: wantFlags(true, false, false)},
}

// repeatFields returns n distinct field lines.
func repeatFields(n int) []string {
	f := make([]string, n)
	for i := range f {
		f[i] = "X-" + strings.Repeat("a", i%7) + "-" + string(rune('a'+i%26)) + ": v"
	}
	return f
}

func TestParseRequest(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			r := Request{Limits: c.limits}
			n, err := ParseRequest([]byte(c.in), &r)
			if err != c.err {
				t.Fatalf("err = %v; want %v", err, c.err)
			}
			if err != nil {
				if n != 0 {
					t.Errorf("n = %d with an error", n)
				}
				return
			}
			if n != len(c.in) {
				t.Errorf("n = %d; want %d", n, len(c.in))
			}
			if r.Scanned != 0 {
				t.Errorf("Scanned = %d after success", r.Scanned)
			}
			if c.check != nil {
				c.check(t, &r)
			}
		})
	}
}

// TestParseRequestTrickle feeds every case one byte more at a time,
// carrying Scanned, and wants ErrNeedMore for every strict prefix the
// one-shot parse did not already reject, then the one-shot result: the
// resumed parse must not depend on how the bytes were split.
func TestParseRequestTrickle(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			buf := []byte(c.in)
			one := Request{Limits: c.limits}
			wantN, wantErr := ParseRequest(buf, &one)

			r := Request{Limits: c.limits}
			for k := 0; k <= len(buf); k++ {
				n, err := ParseRequest(buf[:k], &r)
				if err == ErrNeedMore {
					if k == len(buf) && wantErr != ErrNeedMore {
						t.Fatalf("whole input: ErrNeedMore; want %v", wantErr)
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

// validRequests are complete, valid requests with a body or a pipelined
// successor after the head.
var validRequests = []string{
	"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
	"\r\n\r\nPOST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: keep-alive, X-Trace\r\nX-Trace: 1\r\n\r\nhello",
	"PUT /up HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
	browserRequest,
	// The other request-target forms (RFC 9112 §3.2).
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://example.com:8080/a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
}

// TestParseRequestPrefixes checks every strict prefix of each valid head,
// fresh and with the resume state carried over growing prefixes, and that
// Scanned never moves back: a trickled head is checked once, not again
// on each call.
func TestParseRequestPrefixes(t *testing.T) {
	for i, msg := range validRequests {
		buf := []byte(msg)
		var one Request
		head, err := ParseRequest(buf, &one)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var carried Request
		last := 0
		for k := 0; k < head; k++ {
			var fresh Request
			if _, err := ParseRequest(buf[:k], &fresh); err != ErrNeedMore {
				t.Fatalf("request %d, fresh prefix %d: err = %v; want ErrNeedMore", i, k, err)
			}
			if _, err := ParseRequest(buf[:k], &carried); err != ErrNeedMore {
				t.Fatalf("request %d, carried prefix %d: err = %v; want ErrNeedMore", i, k, err)
			}
			if carried.Scanned < last || carried.Scanned > k {
				t.Fatalf("request %d, prefix %d: Scanned = %d after %d", i, k, carried.Scanned, last)
			}
			if carried.Scanned < k-1 {
				t.Fatalf("request %d, prefix %d: Scanned = %d lags behind", i, k, carried.Scanned)
			}
			last = carried.Scanned
		}
		for k := head; k <= len(buf); k++ {
			c := carried
			n, err := ParseRequest(buf[:k], &c)
			if err != nil || n != head {
				t.Fatalf("request %d, prefix %d: n, err = %d, %v; want %d", i, k, n, err, head)
			}
			if !reflect.DeepEqual(&c, &one) {
				t.Fatalf("request %d: resumed result differs:\n%+v\n%+v", i, c, one)
			}
		}
	}
}

func TestParseRequestSkippedLinesCount(t *testing.T) {
	var r Request
	in := "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nrest"
	n, err := ParseRequest([]byte(in), &r)
	if err != nil || in[n:] != "rest" {
		t.Fatalf("n, err = %d, %v", n, err)
	}
}

func TestParseRequestReuse(t *testing.T) {
	var r Request
	if _, err := ParseRequest([]byte(h11("Connection: x", "X: 1", "Content-Length: 2")), &r); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRequest([]byte(h11()), &r); err != nil {
		t.Fatal(err)
	}
	if r.NumHeaders != 1 || r.Headers[0].Hop || r.Body != BodyNone || r.ContentLength != -1 || !r.KeepAlive {
		t.Fatalf("stale state after reuse: %+v", r)
	}
}

func TestParseRequestStaleScanned(t *testing.T) {
	// A Scanned from another stream must not make the parse panic; out
	// of range, or past a line end that does not fit, it starts over.
	for _, c := range []struct {
		in      string
		scanned int
		err     error
	}{
		{h11(), -5, nil},
		{h11(), 1000, nil},
		{h11(), 3, nil},
		{"GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n", 20, ErrBareLF},
		{"G\r\nHost: a\r\n\r\n", 10, ErrBadRequestLine},
		{"GET / HTTX/1.1\r\nHost: a\r\n\r\n", 20, ErrBadRequestLine},
		// The two SPs before the stale Scanned are taken as checked: an
		// empty target must be refused, not indexed (a fuzz crasher).
		{"GET  HTTP/1.0\r\n\r\n", 5, ErrBadTarget},
	} {
		r := Request{Scanned: c.scanned}
		if _, err := ParseRequest([]byte(c.in), &r); err != c.err {
			t.Errorf("%q with Scanned %d: err = %v; want %v", c.in, c.scanned, err, c.err)
		}
	}
}

func TestHop(t *testing.T) {
	in := get("GET / HTTP/1.1",
		"X-Named: 1", // named by the Connection line below it
		"Host: a",
		"Keep-Alive: timeout=5",
		"TE: trailers",
		"Transfer-Encoding: chunked",
		"Upgrade: h2c",
		"Trailer: X",
		"Proxy-Authorization: Basic x",
		"Proxy-Authenticate: Basic",
		"Proxy-Connection: keep-alive",
		"X-End: 2",
		"Connection: close, x-named, Upgrade",
		"x-named: 3",
		"Via: 1.1 p",
	)
	var r Request
	if _, err := ParseRequest([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	hop := map[string]bool{"x-named": true, "keep-alive": true, "te": true, "transfer-encoding": true, "upgrade": true,
		"trailer": true, "proxy-authorization": true, "proxy-authenticate": true, "proxy-connection": true, "connection": true}
	for _, h := range r.Headers[:r.NumHeaders] {
		if h.Hop != hop[strings.ToLower(string(h.Name))] {
			t.Errorf("%s: Hop = %v", h.Name, h.Hop)
		}
	}
	// Connection with only close, keep-alive and upgrade names no field.
	in = h11("X-A: 1", "Connection: close")
	if _, err := ParseRequest([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.Headers[0].Hop || r.Headers[1].Hop || !r.Headers[2].Hop {
		t.Errorf("Hop = %v %v %v", r.Headers[0].Hop, r.Headers[1].Hop, r.Headers[2].Hop)
	}
}

// squashName is the look-alike rule written the obvious way: lower case,
// letters and digits only.
func squashName(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// isLookAlikeRef is the obvious statement of what isFramingLookAlike
// decides, for the tests and the fuzz targets to compare with.
func isLookAlikeRef(name string) bool {
	s := squashName(name)
	return s == "transferencoding" || s == "contentlength"
}

func TestIsFramingLookAlike(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"Transfer-Encoding", true}, // exact: callers never ask
		{"Content-Length", true},
		{"Transfer_Encoding", true},
		{"transfer_encoding", true},
		{"TransferEncoding", true},
		{"Transfer.Encoding", true},
		{"Transfer-Encoding-", true},
		{"__Content__Length__", true},
		{"ContentLength", true},
		{"C.o.n.t.e.n.t.L.e.n.g.t.h", true},
		{"", false},
		{"-------------", false},
		{"-----------------", false},
		{"Content-Lengt", false},
		{"ContentLengt", false},
		{"ContentLength1", false},
		{"Content-Length0", false},
		{"XContentLength", false},
		{"Content-Type", false},
		{"Content-Encoding", false},
		{"Content-Security-Policy", false},
		{"TransferEncodingX", false},
		{"Transfer-Encodin", false},
		{"Accept-Encoding", false},
		{"Cache-Control", false},
		{"Upgrade-Insecure-Requests", false},
	} {
		if got := isFramingLookAlike([]byte(c.name)); got != c.want {
			t.Errorf("isFramingLookAlike(%q) = %v; want %v", c.name, got, c.want)
		}
		if ref := isLookAlikeRef(c.name); ref != c.want {
			t.Errorf("reference(%q) = %v; want %v", c.name, ref, c.want)
		}
	}
}

func TestEqualFoldASCII(t *testing.T) {
	for _, c := range []struct {
		b, lower string
		want     bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"content-lengtH", "content-length", true},
		{"Content-Lengt", "content-length", false},
		{"Content_Length", "content-length", false},
		{"", "", true},
		{"\xc3\xa9", "\xc3\xa9", true},
		{"[", "{", false}, // 0x5b|0x20 == 0x7b: not a letter
		{"@", "`", false},
	} {
		if got := EqualFoldASCII([]byte(c.b), c.lower); got != c.want {
			t.Errorf("EqualFoldASCII(%q, %q) = %v", c.b, c.lower, got)
		}
	}
}

func TestHasToken(t *testing.T) {
	for _, c := range []struct {
		list, tok string
		want      bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Close", "close", true},
		{" ,, close ,", "close", true},
		{"close\t, x", "close", true},
		{"closed", "close", false},
		{"clos", "close", false},
		{"x-close", "close", false},
		{"", "close", false},
		{"a, b;close", "close", false},
	} {
		if got := HasToken([]byte(c.list), c.tok); got != c.want {
			t.Errorf("HasToken(%q, %q) = %v", c.list, c.tok, got)
		}
	}
}

func TestStatus(t *testing.T) {
	for err, want := range map[error]int{
		nil: 0, ErrNeedMore: 0, ErrBadRequestLine: 400, ErrBadStatusLine: 502, ErrHeadTooLarge: 431,
		ErrTooManyHeaders: 431, ErrTargetTooLong: 414, ErrUnsupportedTransferCoding: 501,
		ErrUnsupportedVersion: 505, ErrBadChunk: 400, ErrConflictingFraming: 400, ErrFramingLookAlike: 400,
		ErrBadTarget: 400,
	} {
		if got := Status(err); got != want {
			t.Errorf("Status(%v) = %d; want %d", err, got, want)
		}
	}
}

// browserRequest is a realistic browser navigation: ten fields and a long
// cookie, about 700 bytes.
const browserRequest = "GET /articles/2024/http-parsing?utm_source=news&page=2 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.9,es;q=0.8\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://www.example.com/articles/2024\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session_id=3f9a8c7e6b5d4a3f2e1d0c9b8a7f6e5d; _ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; theme=dark; lang=en-US; consent=analytics%3Dtrue%26ads%3Dfalse\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Cache-Control: max-age=0\r\n" +
	"\r\n"

// TestForwardedLookAlikes: a look-alike of a field PILB writes itself
// (X_Forwarded_For) is parsed as a Hop field, which the engine drops, in a
// request that is otherwise accepted; near misses stay ordinary fields.
func TestForwardedLookAlikes(t *testing.T) {
	for _, c := range []struct {
		name string
		want HeaderID
	}{
		{"X_Forwarded_For", HdrForwardedLookAlike},
		{"x-forwarded_for", HdrForwardedLookAlike},
		{"XForwardedFor", HdrForwardedLookAlike},
		{"X.Forwarded.Proto", HdrForwardedLookAlike},
		{"X_Forwarded_Proto", HdrForwardedLookAlike},
		{"X-Forwarded-For", HdrXForwardedFor}, // the real one
		{"X-Forwarded-Host", HdrOther},
		{"X_Forwarded_Host", HdrOther},
		{"X-Forwarded-Fo", HdrOther},
		{"X-Forwarded-Prot", HdrOther},
		{"X_Forwarded_Fors", HdrOther},
		{"X-Forwarded-Proto-Version", HdrOther},
		{"Transfer_Encoding", HdrFramingLookAlike},
	} {
		var r Request
		in := "GET / HTTP/1.1\r\nHost: a\r\n" + c.name + ": 6.6.6.6\r\n\r\n"
		_, err := ParseRequest([]byte(in), &r)
		if c.want == HdrFramingLookAlike {
			if err != ErrFramingLookAlike {
				t.Errorf("%s: err %v, want ErrFramingLookAlike", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		h := r.Headers[1]
		if h.ID != c.want || h.Hop != (c.want == HdrForwardedLookAlike) {
			t.Errorf("%s: ID %v Hop %v; want ID %v", c.name, h.ID, h.Hop, c.want)
		}
	}
}
