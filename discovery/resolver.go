package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pilb-proxy/pilb/pool"
)

// DefaultLookupTimeout bounds one target's resolution (every query of it,
// SRV and then each SRV target's addresses). Resolvers answer in
// milliseconds; past a few seconds the answer would be stale anyway.
const DefaultLookupTimeout = 5 * time.Second

// Endpoint is one address a target resolved to.
type Endpoint struct {
	Addr   netip.AddrPort
	Weight int // from SRV (1 to pool.MaxWeight); 1 for A/AAAA
}

// Resolver looks targets up.
type Resolver struct {
	// Server is a DNS server, host:port ("127.0.0.1:8600" for a Consul
	// agent); "" uses the system's resolver configuration
	// (/etc/resolv.conf, /etc/hosts), which on EC2 is the VPC resolver that
	// answers Route 53 private zones and Cloud Map names.
	Server string
	// Timeout bounds one target's lookup; 0 means DefaultLookupTimeout.
	Timeout time.Duration

	once sync.Once
	r    *net.Resolver
}

// resolver returns the net.Resolver to use, sending every query to Server
// when set (over UDP, and TCP when an answer is truncated, as asked).
func (r *Resolver) resolver() *net.Resolver {
	r.once.Do(func() {
		if r.Server == "" {
			r.r = net.DefaultResolver
			return
		}
		server := r.Server
		r.r = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, server)
			},
		}
	})
	return r.r
}

// Lookup resolves t: for a host name every A and AAAA address with t's
// port; for an SRV name the targets of the lowest priority (RFC 2782:
// higher ones are fall-backs), each address of each with the record's
// port and weight. The result is sorted, without duplicates. A name that
// does not exist or has no address returns an error for which NotFound
// is true.
func (r *Resolver) Lookup(ctx context.Context, t Target) ([]Endpoint, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := r.resolver()
	var eps []Endpoint
	if !t.SRV() {
		ips, err := res.LookupNetIP(ctx, "ip", t.Name)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			eps = append(eps, Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), t.Port), Weight: pool.DefaultWeight})
		}
	} else {
		_, srvs, err := res.LookupSRV(ctx, "", "", t.Name)
		if err != nil && len(srvs) == 0 {
			return nil, err
		}
		best := -1
		for _, s := range srvs {
			if s.Target != "." && (best < 0 || int(s.Priority) < best) {
				best = int(s.Priority)
			}
		}
		var errs []error
		for _, s := range srvs {
			if int(s.Priority) != best || s.Target == "." { // "." : service not offered here
				continue
			}
			ips, err := res.LookupNetIP(ctx, "ip", s.Target)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, ip := range ips {
				eps = append(eps, Endpoint{Addr: netip.AddrPortFrom(ip.Unmap(), s.Port), Weight: srvWeight(s.Weight)})
			}
		}
		if len(eps) == 0 && len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	eps = usable(eps)
	if len(eps) == 0 {
		return nil, &net.DNSError{Err: ErrNoAddress.Error(), Name: t.Name, IsNotFound: true}
	}
	return eps, nil
}

// srvWeight maps an SRV weight (0 to 65535, relative within a priority)
// onto a backend weight: 0, which RFC 2782 keeps for "very small
// selection", is 1, and the rest is capped at pool.MaxWeight.
func srvWeight(w uint16) int { return min(max(int(w), 1), pool.MaxWeight) }

// usable sorts eps and drops duplicates and addresses no backend can have
// (unspecified, multicast, port 0); an address listed twice (two SRV
// records of one host) keeps the larger weight.
func usable(eps []Endpoint) []Endpoint {
	eps = slices.DeleteFunc(eps, func(e Endpoint) bool {
		ip := e.Addr.Addr()
		return !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || e.Addr.Port() == 0
	})
	slices.SortFunc(eps, func(a, b Endpoint) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(b.Weight, a.Weight)
	})
	return slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Addr == b.Addr })
}

// NotFound reports whether err says the name has no address (NXDOMAIN, no
// record), rather than that the lookup failed.
func NotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// describe shortens a lookup error for a log line.
func describe(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return fmt.Sprintf("%s: %s", de.Name, de.Err)
	}
	return err.Error()
}
