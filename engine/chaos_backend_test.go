package engine

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// The chaos test's plans and scripted backend (see chaos_test.go).

// plan is what the backend does with one request.
type plan struct {
	id      int
	kind    byte // see planKinds
	status  int
	framing byte // 'l' Content-Length, 'c' chunked, 'x' until close
	size    int  // response body bytes
	interim int  // 1xx responses before the final one
	split   int  // bytes per write of the response; 0: one write
	pauseMs int  // pause between those writes
	reqBody int  // request body bytes
}

// Plan kinds.
const (
	kOK       = 'o' // answer
	kNoBody   = 'n' // 204 or 304
	kNoAnswer = 'a' // close without answering
	kTimeout  = 't' // answer nothing for longer than BackendTimeout
	kTruncate = 'd' // die mid-body
	kStall    = 's' // stall mid-body past BackendTimeout
	kGarbage  = 'g' // a response head PILB cannot parse
	kEarly    = 'e' // 413 and close, before reading the request body
	kTunnel   = 'w' // 101, then echo what comes (read p.split at a time, p.pauseMs between) until EOF
)

func (p *plan) path() string {
	return fmt.Sprintf("/c/%d/%c/%d/%c/%d/%d/%d/%d/%d", p.id, p.kind, p.status, p.framing, p.size, p.interim, p.split, p.pauseMs, p.reqBody)
}

func parsePlan(path string) (*plan, error) {
	f := strings.Split(path, "/")
	if len(f) != 11 || f[1] != "c" {
		return nil, fmt.Errorf("bad plan path %q", path)
	}
	n := make([]int, 11)
	for _, i := range []int{2, 4, 6, 7, 8, 9, 10} {
		v, err := strconv.Atoi(f[i])
		if err != nil {
			return nil, fmt.Errorf("bad plan path %q", path)
		}
		n[i] = v
	}
	return &plan{id: n[2], kind: f[3][0], status: n[4], framing: f[5][0], size: n[6], interim: n[7], split: n[8], pauseMs: n[9], reqBody: n[10]}, nil
}

// chaosBody returns n bytes derived from id: any shift, cut or mix-up of
// two bodies shows.
func chaosBody(id, n int) []byte {
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	h := uint32(id)*2654435761 + 17
	for i := range b {
		b[i] = alpha[(uint32(i)+h)%uint32(len(alpha))]
	}
	return b
}

// chaosBackend serves plans on raw TCP connections.
func chaosBackend(c *bconn) {
	_ = c.SetDeadline(time.Time{})
	for {
		m, err := readHead(c.br)
		if err != nil {
			return
		}
		fields := strings.Fields(m.line)
		if len(fields) != 3 {
			return
		}
		method := fields[0]
		p, err := parsePlan(fields[1])
		if err != nil {
			_ = c.write("HTTP/1.1 599 Bad Plan\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if p.kind == kTunnel {
			chaosTunnel(c, p)
			return
		}
		if p.kind == kEarly {
			body := chaosBody(p.id, p.size)
			_ = c.write(fmt.Sprintf("HTTP/1.1 413 Content Too Large\r\nX-Id: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", p.id, len(body)) + string(body))
			// A lingering close, as a correct server does: closing with
			// the unread body in the receive buffer would reset the
			// connection and destroy the answer on its way.
			_ = c.Conn.(*net.TCPConn).CloseWrite()
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.Copy(io.Discard, c.br)
			return
		}
		if p.interim > 0 && strings.EqualFold(m.get("Expect"), "100-continue") {
			// Interim answers before the body, as a server honouring
			// Expect sends them.
			for range p.interim {
				if c.write("HTTP/1.1 100 Continue\r\n\r\n") != nil {
					return
				}
			}
			p.interim = 0
		}
		if p.reqBody > 0 && p.id%3 == 0 {
			// A backend late to read the body: it waits in PILB.
			time.Sleep(time.Duration(p.id%40) * time.Millisecond)
		}
		if err := readRequestBody(c.br, m); err != nil {
			return
		}
		if !bytes.Equal(m.body, chaosBody(p.id, p.reqBody)) {
			_ = c.write(fmt.Sprintf("HTTP/1.1 599 Bad Body\r\nX-Id: %d\r\nContent-Length: 0\r\n\r\n", p.id))
			return
		}
		if !chaosAnswer(c, p, method == "HEAD") {
			return
		}
	}
}

// chaosAnswer carries out p's answer and reports whether the connection
// may serve another request.
func chaosAnswer(c *bconn, p *plan, head bool) bool {
	switch p.kind {
	case kNoAnswer:
		return false
	case kTimeout:
		time.Sleep(chaosOvershoot)
		return false
	case kGarbage:
		_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
		return false
	}
	var out bytes.Buffer
	for range p.interim {
		out.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
	}
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nX-Id: %d\r\n", p.status, "Chaos", p.id)
	body := chaosBody(p.id, p.size)
	keep := true
	switch {
	case p.kind == kNoBody:
		body = nil
	case p.framing == 'l':
		fmt.Fprintf(&out, "Content-Length: %d\r\n", len(body))
	case p.framing == 'c':
		out.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		out.WriteString("Connection: close\r\n")
		keep = false
	}
	out.WriteString("\r\n")
	if head {
		body = nil
	}
	cut := len(body)
	if p.kind == kTruncate || p.kind == kStall {
		cut = len(body) / 2
	}
	if p.framing == 'c' && p.kind != kNoBody && !head {
		// Chunks of varying size, a trailer at the end.
		rest := body[:cut]
		for i := 0; len(rest) > 0; i++ {
			n := min(len(rest), 1+(p.id*7+i*131)%9000)
			fmt.Fprintf(&out, "%x\r\n", n)
			out.Write(rest[:n])
			out.WriteString("\r\n")
			rest = rest[n:]
		}
		if cut == len(body) {
			fmt.Fprintf(&out, "0\r\nX-Trailer-Id: %d\r\n\r\n", p.id)
		}
	} else {
		out.Write(body[:cut])
	}
	if !chaosWrite(c, out.Bytes(), p) {
		return false
	}
	switch p.kind {
	case kTruncate:
		return false
	case kStall:
		time.Sleep(chaosOvershoot)
		return false
	}
	return keep
}

// chaosWrite writes b in p.split pieces with p.pauseMs between them.
func chaosWrite(c *bconn, b []byte, p *plan) bool {
	if p.split <= 0 {
		_, err := c.Write(b)
		return err == nil
	}
	for len(b) > 0 {
		n := min(p.split, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			return false
		}
		b = b[n:]
		if p.pauseMs > 0 && len(b) > 0 {
			time.Sleep(time.Duration(p.pauseMs) * time.Millisecond)
		}
	}
	return true
}

// chaosTunnel answers an upgrade and echoes the tunnel's bytes, reading
// p.split at a time with p.pauseMs between reads (a slow reader makes
// PILB pause the client), until the client's side ends.
//
// The tunnel's socket gets a receive buffer of a normal size first. The
// first chaos backend listens with an 8 KiB SO_RCVBUF, so that request
// bodies wait in PILB; on Linux 6.18 a megabyte stream into a buffer that
// small can stall for tens of seconds with no proxy involved: the
// receiver's window settles just below the sender's segment size, and
// the sender then moves only on its zero-window probes (ss shows
// timer:(persist) and snd_wnd < mss). A buffer grown once the connection
// is accepted, as here, does not stall (figures:
// bench/reports/2026-11-30-rcvbuf-stall).
func chaosTunnel(c *bconn, p *plan) {
	if c.write(fmt.Sprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: chaos\r\nConnection: Upgrade\r\nX-Id: %d\r\n\r\n", p.id)) != nil {
		return
	}
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(256 << 10)
	}
	buf := make([]byte, max(p.split, 1024))
	for {
		n, err := c.br.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF: the client's end, passed on by PILB
		}
		if p.pauseMs > 0 {
			time.Sleep(time.Duration(p.pauseMs) * time.Millisecond)
		}
	}
}
