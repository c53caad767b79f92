package discovery

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/pool"
)

// maxNameLen is DNS's limit on a name (RFC 1035 §2.3.4), plus a trailing dot.
const maxNameLen = 254

// Target is one name whose addresses are backends of one pool.
type Target struct {
	// Pool is the pool's name; "" is pool.DefaultPool.
	Pool string
	// Name is a host name, or an SRV name when it starts with '_'
	// ("_http._tcp.api.service.consul").
	Name string
	// Port is the backends' port for a host name; 0 for an SRV name.
	Port uint16
	// Source is the registry source its backends get: control.SourceDNS
	// for -backends-dns, control.SourceFlag for a hostname in -backends.
	Source control.Source
	// Required makes the first resolution's failure an error (a hostname
	// in -backends must resolve at start, as nginx and HAProxy require);
	// otherwise the name may come to exist later.
	Required bool
}

// SRV reports whether the target is an SRV name.
func (t Target) SRV() bool { return strings.HasPrefix(t.Name, "_") }

// String returns the target as ParseTarget takes it.
func (t Target) String() string {
	s := t.Name
	if !t.SRV() {
		s = net.JoinHostPort(t.Name, strconv.Itoa(int(t.Port)))
	}
	if t.Pool != "" && t.Pool != pool.DefaultPool {
		s = t.Pool + "=" + s
	}
	return s
}

// owner is the key the registry files the target's backends under.
func (t Target) owner() string { return t.String() }

// ParseTarget parses [pool=]name:port, or [pool=]_service._proto.name for
// SRV. Errors wrap ErrBadTarget.
func ParseTarget(s string, src control.Source) (Target, error) {
	t := Target{Source: src}
	rest := s
	if i := strings.IndexByte(s, '='); i >= 0 {
		t.Pool, rest = s[:i], s[i+1:]
		if err := pool.CheckPoolName(t.Pool); err != nil {
			return Target{}, fmt.Errorf("%w: %q: %v", ErrBadTarget, s, err)
		}
	}
	if strings.HasPrefix(rest, "_") {
		if strings.Contains(rest, ":") {
			return Target{}, fmt.Errorf("%w: %q: an SRV name takes its ports from the records; drop the :port", ErrBadTarget, s)
		}
		t.Name = rest
	} else {
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return Target{}, fmt.Errorf("%w: %q: want [pool=]name:port or [pool=]_service._proto.name", ErrBadTarget, s)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Target{}, fmt.Errorf("%w: %q: bad port %q", ErrBadTarget, s, port)
		}
		t.Name, t.Port = host, uint16(n)
	}
	if err := checkName(t.Name); err != nil {
		return Target{}, fmt.Errorf("%w: %q: %v", ErrBadTarget, s, err)
	}
	return t, nil
}

// checkName accepts what a resolver can look up: letters, digits, '-',
// '_' and dots, in labels of 1 to 63 characters.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("name %q: want 1 to %d characters", name, maxNameLen)
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("%q is an address, not a name: give it to -backends", name)
	}
	if strings.Trim(name, "0123456789.") == "" {
		return fmt.Errorf("%q looks like an IPv4 address but is not one", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("name %q: empty or over-long label", name)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("name %q: %q is not a name character", name, c)
			}
		}
	}
	return nil
}
