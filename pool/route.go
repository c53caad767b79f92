package pool

import (
	"bytes"
	"fmt"
	"net"
	"strings"
)

// DefaultPool is the name of the pool of backends given no pool, and of the
// pool a request goes to when no route matches it.
const DefaultPool = "default"

// maxPoolName bounds a pool name: it appears in logs, flags and JSON.
const maxPoolName = 64

// NoName is reserved: it is neither a pool's name nor a backend's id.
// Metrics and the access log give it to a request that never had a pool
// or a backend (refused before routing, 503 with nothing available), so a
// pool or backend of that name would share their counters.
const NoName = "none"

// maxHostLen is the longest host name that can match a host route: 253
// characters is DNS's limit (RFC 1035 §2.3.4 as applied by RFC 2181 §11),
// plus a trailing dot and room for a bracketed IPv6 literal. A longer Host
// matches no host route and goes to the path routes or the default pool.
const maxHostLen = 256

// Route sends the requests it matches to a pool. A request matches when its
// host matches Host and its path matches Prefix. Route keys are written
// host=pool, /prefix=pool or host/prefix=pool (ParseRoute).
//
// Host is "" (any host), an exact host ("api.example.com", matched without
// its port and case-insensitively), or "*.example.com" (any host ending in
// ".example.com", not "example.com" itself). Prefix is "" (any path) or a
// path prefix starting with '/', matched case-sensitively on the raw
// request path: "/static/" matches every path under it, "/api" matches
// "/api", "/api/..." and "/api?..." but not "/apiary". Paths are not
// normalised (no dot-segment or percent-decoding), so routes choose pools;
// they are not access control.
//
// Among the routes a request matches the most specific wins: an exact host
// before a wildcard host (the longer suffix first) before any host, and
// within those the longest prefix before a shorter one before none. A
// request no route matches goes to DefaultPool.
type Route struct {
	Host   string
	Prefix string
	Pool   string
}

// String returns the route as ParseRoute takes it.
func (r Route) String() string { return r.Host + r.Prefix + "=" + r.Pool }

// ParseRoute parses a route key=pool: "api.example.com=api",
// "/static/=static", "api.example.com/v2/=v2", "*.example.com=tenants".
// Errors wrap ErrBadRoute and say what is wrong.
func ParseRoute(s string) (Route, error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return Route{}, fmt.Errorf("%w: %q: want host=pool, /prefix=pool or host/prefix=pool", ErrBadRoute, s)
	}
	key, poolName := s[:i], s[i+1:]
	r := Route{Pool: poolName}
	if j := strings.IndexByte(key, '/'); j >= 0 {
		r.Host, r.Prefix = key[:j], key[j:]
	} else {
		r.Host = key
	}
	r = r.normal()
	if err := r.check(); err != nil {
		return Route{}, fmt.Errorf("%w: %q: %v", ErrBadRoute, s, err)
	}
	return r, nil
}

// normal returns r with its host lower-cased and without a trailing dot,
// and a prefix of "/" (every path) as "".
func (r Route) normal() Route {
	r.Host = strings.TrimSuffix(strings.ToLower(r.Host), ".")
	if r.Prefix == "/" {
		r.Prefix = ""
	}
	return r
}

// check validates a normal route.
func (r Route) check() error {
	if err := CheckPoolName(r.Pool); err != nil {
		return err
	}
	if r.Host == "" && r.Prefix == "" {
		return fmt.Errorf("matches everything: requests no route matches go to pool %q already", DefaultPool)
	}
	if r.Prefix != "" {
		if r.Prefix[0] != '/' {
			return fmt.Errorf("prefix %q does not start with /", r.Prefix)
		}
		if strings.ContainsAny(r.Prefix, "?# \t") {
			return fmt.Errorf("prefix %q: a path prefix has no query, fragment or space", r.Prefix)
		}
	}
	if r.Host == "" {
		return nil
	}
	h := strings.TrimPrefix(r.Host, "*.")
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") || net.ParseIP(h[1:len(h)-1]) == nil || h != r.Host {
			return fmt.Errorf("host %q: want a bracketed IPv6 address such as [2001:db8::1]", r.Host)
		}
		return nil
	}
	if strings.IndexByte(h, ':') >= 0 {
		return fmt.Errorf("host %q has a port: routes match the host alone, whatever the port", r.Host)
	}
	if h == "" || len(h) > maxHostLen-2 {
		return fmt.Errorf("host %q: empty or too long", r.Host)
	}
	for _, c := range []byte(h) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("host %q: %q is not a host name character (a wildcard is *. at the start only)", r.Host, c)
		}
	}
	return nil
}

// CheckPoolName reports whether name can name a pool: 1 to 64 letters,
// digits, '.', '_' or '-'.
func CheckPoolName(name string) error {
	if name == "" || len(name) > maxPoolName {
		return fmt.Errorf("pool name %q: want 1 to %d characters", name, maxPoolName)
	}
	if name == NoName {
		return fmt.Errorf("pool name %q is reserved: metrics and logs name so the pool of a request that had none", name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("pool name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// requestHostPath returns the host and path a request is routed by: the
// Host field and the origin-form target, or for an absolute-form target
// its authority and path, which RFC 9112 §3.2.2 makes replace Host.
func requestHostPath(host, target []byte) ([]byte, []byte) {
	if len(target) == 0 || target[0] == '/' {
		return host, target
	}
	i := bytes.Index(target, []byte("://"))
	if i < 0 {
		return host, target // asterisk-form ("*") or garbage: no path to match
	}
	rest := target[i+3:]
	end := len(rest)
	if k := bytes.IndexAny(rest, "/?"); k >= 0 {
		end = k
	}
	auth, path := rest[:end], rest[end:]
	if k := bytes.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:] // userinfo (RFC 9110 §4.2.4 deprecates it)
	}
	return auth, path
}

// normalHost appends to dst the lower-cased host of a Host value without
// its port and trailing dot. ok is false when it cannot match a route:
// empty, or longer than dst's capacity.
func normalHost(dst, host []byte) (_ []byte, ok bool) {
	if len(host) > 0 && host[0] == '[' {
		if k := bytes.IndexByte(host, ']'); k >= 0 {
			host = host[:k+1]
		}
	} else if k := bytes.IndexByte(host, ':'); k >= 0 {
		host = host[:k]
	}
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if len(host) == 0 || len(host) > cap(dst)-len(dst) {
		return dst, false
	}
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// prefixMatch reports whether path is under prefix: a prefix ending in '/'
// matches by bytes, any other only up to a segment boundary.
func prefixMatch(path []byte, prefix string) bool {
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	if len(path) == len(prefix) || prefix[len(prefix)-1] == '/' {
		return true
	}
	c := path[len(prefix)]
	return c == '/' || c == '?'
}
