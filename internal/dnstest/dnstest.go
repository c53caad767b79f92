// Package dnstest runs a real DNS server on loopback whose answers a test
// changes as it goes: the discovery tests and pilb's SIGHUP test resolve
// through it. It is imported by tests only.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Server is a DNS server on loopback, UDP and TCP on one port. Names it
// does not know get NXDOMAIN; known names without records of the type
// asked get an empty answer.
type Server struct {
	// Addr is where it listens, 127.0.0.1:port.
	Addr string

	mu   sync.Mutex
	ips  map[string][]netip.Addr
	srvs map[string][]dns.SRV

	// ServFail makes every answer SERVFAIL while true.
	ServFail atomic.Bool
	// Queries counts the queries answered.
	Queries atomic.Int64
}

// Start starts a Server, stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	f := &Server{ips: map[string][]netip.Addr{}, srvs: map[string][]dns.SRV{}}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 { // find a port free for both UDP and TCP
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	f.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: f}
	tcp := &dns.Server{Listener: ln, Handler: f}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return f
}

// SetIPs sets the A and AAAA records of name; no address removes the name
// (NXDOMAIN from then on).
func (f *Server) SetIPs(name string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = dns.Fqdn(strings.ToLower(name))
	if len(ips) == 0 {
		delete(f.ips, name)
		return
	}
	list := []netip.Addr{}
	for _, s := range ips {
		list = append(list, netip.MustParseAddr(s))
	}
	f.ips[name] = list
}

// SetSRV sets the SRV records of name.
func (f *Server) SetSRV(name string, recs ...dns.SRV) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srvs[dns.Fqdn(strings.ToLower(name))] = recs
}

// ServeDNS implements dns.Handler.
func (f *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.Queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if f.ServFail.Load() {
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		ips, hasIPs := f.ips[name]
		srvs, hasSRV := f.srvs[name]
		if !hasIPs && !hasSRV {
			m.Rcode = dns.RcodeNameError
			continue
		}
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 0}
		switch q.Qtype {
		case dns.TypeA, dns.TypeAAAA:
			for _, ip := range ips {
				if ip.Is4() && q.Qtype == dns.TypeA {
					h := hdr
					h.Rrtype = dns.TypeA
					m.Answer = append(m.Answer, &dns.A{Hdr: h, A: ip.AsSlice()})
				}
				if ip.Is6() && q.Qtype == dns.TypeAAAA {
					h := hdr
					h.Rrtype = dns.TypeAAAA
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: h, AAAA: ip.AsSlice()})
				}
			}
		case dns.TypeSRV:
			for _, s := range srvs {
				h := hdr
				h.Rrtype = dns.TypeSRV
				rec := s
				rec.Hdr = h
				m.Answer = append(m.Answer, &rec)
			}
		}
	}
	_ = w.WriteMsg(m)
}

// SRV returns an SRV record for SetSRV.
func SRV(prio, weight, port uint16, target string) dns.SRV {
	return dns.SRV{Priority: prio, Weight: weight, Port: port, Target: dns.Fqdn(target)}
}
