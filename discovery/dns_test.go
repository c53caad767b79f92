package discovery

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDNS is a real DNS server on loopback (UDP and TCP on one port) whose
// answers a test changes as it goes. Names are fully qualified, lower-case.
type fakeDNS struct {
	addr string

	mu   sync.Mutex
	ips  map[string][]netip.Addr
	srvs map[string][]dns.SRV

	servfail atomic.Bool
	queries  atomic.Int64
}

func startDNS(t testing.TB) *fakeDNS {
	t.Helper()
	f := &fakeDNS{ips: map[string][]netip.Addr{}, srvs: map[string][]dns.SRV{}}
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
	f.addr = pc.LocalAddr().String()
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

// setIPs sets the A and AAAA records of name; nil removes the name
// (NXDOMAIN).
func (f *fakeDNS) setIPs(name string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = dns.Fqdn(strings.ToLower(name))
	if ips == nil {
		delete(f.ips, name)
		return
	}
	list := []netip.Addr{}
	for _, s := range ips {
		list = append(list, netip.MustParseAddr(s))
	}
	f.ips[name] = list
}

func (f *fakeDNS) setSRV(name string, recs ...dns.SRV) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srvs[dns.Fqdn(strings.ToLower(name))] = recs
}

func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if f.servfail.Load() {
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

func srv(prio, weight, port uint16, target string) dns.SRV {
	return dns.SRV{Priority: prio, Weight: weight, Port: port, Target: dns.Fqdn(target)}
}

// settle polls cond every 10 ms for up to d.
func settle(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
