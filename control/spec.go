package control

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/pilb-proxy/pilb/pool"
)

// checkSpec validates s and puts it in its canonical form: the default
// pool named, the weight set, the address as netip prints it (so that
// "::ffff:10.0.0.1:80" and "10.0.0.1:80" are one backend). Errors wrap
// ErrInvalid.
func checkSpec(s *Spec) error {
	if err := CheckID(s.ID); err != nil {
		return err
	}
	if s.Pool == "" {
		s.Pool = pool.DefaultPool
	}
	if err := pool.CheckPoolName(s.Pool); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if s.Weight == 0 {
		s.Weight = pool.DefaultWeight
	}
	if s.Weight < 1 || s.Weight > pool.MaxWeight {
		return fmt.Errorf("%w: weight %d: want 1 to %d", ErrInvalid, s.Weight, pool.MaxWeight)
	}
	ap, err := ParseAddr(s.Addr)
	if err != nil {
		return err
	}
	s.Addr = ap.String()
	return nil
}

// CheckID reports whether id can name a backend: 1 to 367 letters, digits
// or ".-_:@[]" (what DNS-found ids such as "api.internal@[2001:db8::1]:80"
// and "web:api.internal@10.0.0.1:80" need), so that it is safe in a URL path, a log line and a flag.
func CheckID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: id %q: want 1 to %d characters", ErrInvalid, id, maxIDLen)
	}
	if id == pool.NoName {
		return fmt.Errorf("%w: id %q is reserved: metrics and logs name so the backend of a request that had none", ErrInvalid, id)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' ||
			c == '_' || c == ':' || c == '@' || c == '[' || c == ']') {
			return fmt.Errorf("%w: id %q: %q is not allowed (letters, digits and .-_:@[] only)", ErrInvalid, id, c)
		}
	}
	return nil
}

// ParseAddr parses a backend's dial address: an IP address (IPv6 in
// brackets) and a port 1 to 65535. A host name is refused: names are
// resolved by DNS discovery at intervals, never per connection. Errors
// wrap ErrInvalid.
func ParseAddr(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: addr %q: want ip:port", ErrInvalid, addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: addr %q: bad port %q", ErrInvalid, addr, port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: addr %q: the host must be an IP address (use -backends-dns for names)", ErrInvalid, addr)
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("%w: addr %q: not a unicast address", ErrInvalid, addr)
	}
	return netip.AddrPortFrom(ip, uint16(n)), nil
}

// fillHost completes an address given as ":port", or with an unspecified
// host ("0.0.0.0:5000", what a backend listening on every interface
// knows of itself), with the host the registration came from: the
// original project's listenport.
func fillHost(addr, remote string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: addr %q: want ip:port or :port", ErrInvalid, addr)
	}
	if host != "" {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			return addr, nil
		}
	}
	rhost, _, err := net.SplitHostPort(remote)
	if err != nil {
		return "", fmt.Errorf("%w: addr %q: no host given and the request's source %q is not ip:port", ErrInvalid, addr, remote)
	}
	return net.JoinHostPort(rhost, port), nil
}
