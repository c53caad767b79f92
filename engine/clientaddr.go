package engine

import (
	"net/netip"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/proxyproto"
)

// The client's address, and what PILB believes of the forwarded headers.
//
// With Config.ProxyProtocol, every connection must start with a PROXY
// protocol header (v1 or v2: what an AWS NLB or HAProxy in TCP mode
// sends); its source address is the client's, for X-Forwarded-For and the
// access log. A connection without a valid header is reset without an
// answer: behind an NLB, a connection that lacks one did not come through
// it. A LOCAL header (the balancer's own health check) keeps the
// connection's own address.
//
// With Config.TrustedProxies, an X-Forwarded-Proto from a trusted client
// address is kept (an ALB says https for the TLS it terminated);
// otherwise it is replaced by the listener's own (Config.Proto). The
// address judged is the client's as PILB knows it: with the PROXY
// protocol, the header's source, since a PROXY protocol peer is a
// layer-4 balancer that passes the client's own headers on unchanged.
// X-Forwarded-For is always appended to, never trusted or cut.

// clientAccepted sets up a new client's address state from its socket's
// address (cl.ip, set at accept).
func (s *Server) clientAccepted(cl *clientConn, _ gnet.Conn) {
	if len(s.cfg.TrustedProxies) > 0 {
		cl.ops.trusted = s.trusts(cl.ip)
	}
}

// trusts reports whether ip is in Config.TrustedProxies.
func (s *Server) trusts(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// readProxyHeader takes the PROXY protocol header at the start of buf, the
// client's input. It reports whether it did; when it did not, either more
// input is needed (and asked for) or the client was reset.
func (l *loop) readProxyHeader(cl *clientConn, buf []byte) bool {
	var h proxyproto.Header
	n, err := proxyproto.Parse(buf, &h)
	switch err {
	case nil:
	case proxyproto.ErrNeedMore:
		if cl.sock.st != sockOn {
			l.needInput(cl)
		}
		return false
	default:
		if l.cfg.Metrics {
			l.ops.stats.rejects[rejProxyHeader]++
		}
		l.warnProxyHeader(cl, err)
		l.resetClient(cl, ErrProxyHeader)
		return false
	}
	cl.consume(n)
	cl.ops.proxied = true
	l.ops.stats.bytesIn += uint64(n)
	if h.Local {
		return true
	}
	cl.ip = h.Source.Addr().Unmap()
	if len(l.cfg.TrustedProxies) > 0 {
		cl.ops.trusted = l.srv.trusts(cl.ip)
	}
	return true
}

// warnProxyHeader logs a connection refused for its PROXY protocol header.
func (l *loop) warnProxyHeader(cl *clientConn, err error) {
	ok, suppressed := l.warnAllowed()
	if !ok {
		return
	}
	attrs := []any{"peer", cl.ip.String(), "err", err.Error()}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.srv.log.Warn("connection without a valid PROXY protocol header reset", attrs...)
}

// forwardedProto returns the X-Forwarded-Proto to send upstream for r,
// from cl: the client's own value when cl is a trusted proxy and sent a
// well-formed one, the listener's otherwise. The common values come back
// as constants, so that nothing is allocated per request.
func (l *loop) forwardedProto(cl *clientConn, r *httpparse.Request) string {
	if !cl.ops.trusted {
		return l.cfg.Proto
	}
	for i := range r.Headers[:r.NumHeaders] {
		h := &r.Headers[i]
		if h.ID != httpparse.HdrXForwardedProto {
			continue
		}
		v := h.Value
		for _, known := range [...]string{"https", "http", "wss", "ws"} {
			if httpparse.EqualFoldASCII(v, known) {
				return known
			}
		}
		if validProtoList(v) {
			return string(v)
		}
		return l.cfg.Proto
	}
	return l.cfg.Proto
}

// validProtoList reports whether v is a list of schemes (RFC 3986 §3.1
// characters, commas and spaces), so that a trusted value is passed on
// only when it cannot break the head.
func validProtoList(v []byte) bool {
	if len(v) == 0 || len(v) > 64 {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '+', c == '-', c == '.', c == ',', c == ' ':
		default:
			return false
		}
	}
	return true
}
