//go:build !race

package demobackend

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// fakeConn is the part of gnet.Conn that OnTraffic uses, over a byte
// slice; calling any other method panics on the nil embedded interface.
type fakeConn struct {
	gnet.Conn
	in      []byte
	written int
	ctx     any
}

func (f *fakeConn) Peek(int) ([]byte, error) { return f.in, nil }
func (f *fakeConn) Discard(n int) (int, error) {
	if n < 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}
func (f *fakeConn) Write(p []byte) (int, error) { f.written += len(p); return len(p), nil }
func (f *fakeConn) Writev(bs [][]byte) (int, error) {
	for _, b := range bs {
		f.written += len(b)
	}
	return f.written, nil
}
func (f *fakeConn) OutboundBuffered() int { return 0 }
func (f *fakeConn) InboundBuffered() int  { return len(f.in) }
func (f *fakeConn) Context() any          { return f.ctx }
func (f *fakeConn) SetContext(ctx any)    { f.ctx = ctx }

// The load-test path, "/" with keep-alive, allocates nothing per request.
func TestRootZeroAlloc(t *testing.T) {
	h := newHandler(&Server{}, newHeads("s1", []byte("hello")))
	c := &fakeConn{}
	h.OnOpen(c)
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	allocs := testing.AllocsPerRun(1000, func() {
		c.in = req
		h.OnTraffic(c)
	})
	if allocs != 0 {
		t.Errorf("OnTraffic on GET /: %v allocs per run, want 0", allocs)
	}
	if len(c.in) != 0 || c.written == 0 {
		t.Errorf("request not consumed or nothing written")
	}
}
