package engine

import (
	"strconv"
	"time"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

// The monitor URI (HAProxy's monitor-uri): a path that PILB answers on the
// main listener itself, for the load balancer in front of it (an AWS
// NLB's or ALB's target health check). A TCP check passes as long as
// PILB listens, even when every backend is down; this one says 200 only
// while the monitored pool has an available backend and PILB is not
// draining, and 503 otherwise, so that the balancer in front takes a
// useless or leaving PILB out of its rotation.
//
// Its answers are not requests: they are not counted in the metrics nor
// written to the access log (a balancer checks every few seconds from
// every zone).

// Health reasons, as /healthz and the monitor URI's body say them.
const (
	healthOK        = "ok"
	healthNoBackend = "no available backend"
	healthDraining  = "draining"
)

// Health reports whether PILB should receive traffic: it is not draining
// and the monitored pool (Config.MonitorPool, the default pool when empty)
// has an available backend. reason says why not, or "ok".
func (s *Server) Health() (ok bool, reason string) {
	return s.health(nowNanos())
}

func (s *Server) health(now int64) (bool, string) {
	if s.draining.Load() {
		return false, healthDraining
	}
	p := s.cfg.Routes.Load().Pool(s.cfg.MonitorPool)
	if p == nil || !anyAvailable(p, now) {
		return false, healthNoBackend
	}
	return true, healthOK
}

func nowNanos() int64 { return time.Now().UnixNano() }

func anyAvailable(p *pool.Pool, now int64) bool {
	for _, b := range p.Backends() {
		if b.Available(now) {
			return true
		}
	}
	return false
}

// monitorResponses are the canned answers: [ok][closeConn][head].
var monitorResponses = func() (m [2][2][2][]byte) {
	for i, reason := range []string{healthNoBackend, healthOK} {
		code := 503
		if i == 1 {
			code = 200
		}
		for j := range 2 {
			full := buildMonitorResponse(code, reason, j == 1)
			m[i][j] = [2][]byte{full, withoutBody(full)}
		}
	}
	return m
}()

var monitorDraining = func() (m [2][][]byte) {
	for j := range 2 {
		full := buildMonitorResponse(503, healthDraining, j == 1)
		m[j] = [][]byte{full, withoutBody(full)}
	}
	return m
}()

func buildMonitorResponse(code int, reason string, closeConn bool) []byte {
	body := reason + "\n"
	text := "OK"
	if code != 200 {
		text = "Service Unavailable"
	}
	b := "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Cache-Control: no-store\r\n"
	if closeConn {
		b += "Connection: close\r\n"
	}
	return []byte(b + "\r\n" + body)
}

// isMonitorURI reports whether target's path (before any query) is the
// monitor URI.
func isMonitorURI(target []byte, uri string) bool {
	for i, c := range target {
		if c == '?' {
			target = target[:i]
			break
		}
	}
	return string(target) == uri
}

// monitor answers a request for the monitor URI, parsed into l.req from
// buf[:n], and reports whether it did; any other request is left to the
// exchange. A request with a body is answered and its connection closed,
// rather than the body read.
func (l *loop) monitor(cl *clientConn, n int) bool {
	r := &l.req
	if !isMonitorURI(r.Target, l.cfg.MonitorURI) {
		return false
	}
	ok, reason := l.srv.health(l.now)
	hasBody := r.Body == httpparse.BodyChunked || r.Body == httpparse.BodyLength && r.ContentLength > 0
	// An HTTP/1.0 client is not told keep-alive by the canned answers.
	closeConn := !r.KeepAlive || r.Minor == 0 || hasBody || l.srv.draining.Load()
	head := string(r.Method) == "HEAD"
	var resp []byte
	switch {
	case reason == healthDraining:
		resp = monitorDraining[b2i(closeConn)][b2i(head)]
	default:
		resp = monitorResponses[b2i(ok)][b2i(closeConn)][b2i(head)]
	}
	cl.consume(n)
	cl.setPhase(cpExchange)
	cl.keepAlive = !closeConn
	if !l.writeClient(cl, resp) {
		return true
	}
	if closeConn {
		l.closeClient(cl)
		return true
	}
	l.nextRequest(cl)
	return true
}
