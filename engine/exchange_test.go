package engine

import (
	"testing"
	"unsafe"
)

// Every idle client carries a clientConn: it stays in the 224-byte size
// class, its exchange apart, and out of gnet's connection's (240 bytes in
// gnet 2.9.7), whose objects a parked client frees: in one class, the two
// would share spans, which the freed half could not give back.
func TestClientConnSize(t *testing.T) {
	if n := unsafe.Sizeof(clientConn{}); n > 224 {
		t.Errorf("clientConn is %d bytes, past the 224-byte size class: move per-request state to exchange", n)
	}
}

// An exchange is lent from the head to the end of a request and comes
// back zeroed; an idle client holds none.
func TestExchangeLentAndTakenBack(t *testing.T) {
	l := &loop{}
	cl := &clientConn{l: l}
	x := cl.x()
	if cl.x() != x {
		t.Fatal("a second x() lent another exchange")
	}
	x.rec.status, x.rec.in, x.reqBody.left = 200, 10, 5
	l.dropExchange(cl)
	if cl.ex != nil || len(l.spareEx) != 1 {
		t.Fatalf("after drop: ex %p, %d spare", cl.ex, len(l.spareEx))
	}
	y := cl.x()
	if y != x || *y != (exchange{}) || len(l.spareEx) != 0 {
		t.Errorf("not the spare, zeroed: same %v, %+v, %d spare", y == x, *y, len(l.spareEx))
	}
	l.dropExchange(cl)
	// The spares are capped.
	cls := make([]*clientConn, maxSpareExchanges+5)
	for i := range cls {
		cls[i] = &clientConn{l: l}
		cls[i].x()
	}
	for _, c := range cls {
		l.dropExchange(c)
	}
	if len(l.spareEx) != maxSpareExchanges {
		t.Errorf("%d spares kept, want %d", len(l.spareEx), maxSpareExchanges)
	}
}
