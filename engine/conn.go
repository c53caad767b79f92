package engine

import (
	"fmt"
	"net/netip"

	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/pool"
)

// clientPhase is where a client connection is in HTTP terms; where its
// socket is (on the loop or off it) is its sock's state. The legal
// transitions are clientNext; setPhase checks them:
//
//	idle -> head            first byte of a request head
//	head -> exchange        head parsed, request dispatched upstream
//	exchange -> idle        response complete, connection kept alive
//	exchange -> tunnel      101 Switching Protocols
//	any -> closing          PILB's last response written; it drains, then FIN
//	closing -> linger       write side shut; input read and dropped until EOF or timeout
//	any -> aborting         a response was cut: what is owed drains, then a reset
//	any -> closed
type clientPhase uint8

const (
	cpIdle clientPhase = iota
	cpHead
	cpExchange
	cpTunnel
	cpClosing
	cpLinger
	cpAborting
	cpClosed
)

var clientPhaseNames = [...]string{"idle", "head", "exchange", "tunnel", "closing", "linger", "aborting", "closed"}

func (p clientPhase) String() string { return clientPhaseNames[p] }

// clientNext[p] has bit q set when p -> q is legal.
var clientNext = [...]uint16{
	cpIdle:     1<<cpHead | 1<<cpClosing | 1<<cpAborting | 1<<cpClosed,
	cpHead:     1<<cpExchange | 1<<cpClosing | 1<<cpAborting | 1<<cpClosed,
	cpExchange: 1<<cpIdle | 1<<cpTunnel | 1<<cpClosing | 1<<cpAborting | 1<<cpClosed,
	cpTunnel:   1<<cpClosing | 1<<cpAborting | 1<<cpClosed,
	cpClosing:  1<<cpLinger | 1<<cpAborting | 1<<cpClosed,
	cpLinger:   1 << cpClosed,
	cpAborting: 1 << cpClosed,
	cpClosed:   0,
}

// backendPhase is where a backend connection is in HTTP terms.
//
//	idle -> request     bound to an exchange (dialing or pooled)
//	request -> body     final response head forwarded, body to come
//	request -> tunnel   101 Switching Protocols
//	request -> idle     a response without body, connection reusable
//	body -> idle        response complete, connection reusable
//	request -> idle     the client left while this one was dialing
//	any -> closed
type backendPhase uint8

const (
	bpIdle backendPhase = iota // no exchange: pre-dialed, pooled, or dialing for a client that left
	bpRequest
	bpBody
	bpTunnel
	bpClosed
)

var backendPhaseNames = [...]string{"idle", "request", "body", "tunnel", "closed"}

func (p backendPhase) String() string { return backendPhaseNames[p] }

var backendNext = [...]uint8{
	bpIdle:    1<<bpRequest | 1<<bpClosed,
	bpRequest: 1<<bpBody | 1<<bpTunnel | 1<<bpIdle | 1<<bpClosed,
	bpBody:    1<<bpIdle | 1<<bpClosed,
	bpTunnel:  1 << bpClosed,
	bpClosed:  0,
}

func (cl *clientConn) setPhase(next clientPhase) {
	if clientNext[cl.phase]&(1<<next) == 0 {
		panic(fmt.Sprintf("engine: client %v -> %v", cl.phase, next))
	}
	cl.phase = next
}

func (be *backendConn) setPhase(next backendPhase) {
	if backendNext[be.phase]&(1<<next) == 0 {
		panic(fmt.Sprintf("engine: backend %v -> %v", be.phase, next))
	}
	be.phase = next
}

// clientConn is one client connection. It lives on one loop and is touched
// only by that loop's goroutine.
//
// Its fields are ordered for size: every idle keep-alive client costs one
// of these (and gnet's own connection), so a few bytes times the tens of
// thousands of connections a proxy holds matter.
type clientConn struct {
	l    *loop
	sock sock
	tm   timer
	ip   netip.Addr // client address, for X-Forwarded-For; set at accept

	stash     stash // input read before the socket went off the loop, not yet consumed
	idx       int32 // position in l.clients
	scanned   int32 // httpparse resume offset of a partial head
	parked    int32 // 1 + its slot in the loop's park set; 0 when not parked (park.go)
	drainLeft int32 // closing: output still owed at the last drain check (at most maxHeld)
	phase     clientPhase
	minor     uint8 // the client's HTTP minor version
	tries     uint8 // backends tried for this request

	// busy is set while serveClient runs, so that work finished in a
	// nested call (a response ending inside a request's dispatch) does not
	// re-enter it: the outer loop goes on.
	busy bool

	// The exchange in progress (phases exchange and tunnel).
	retained    bool // out holds the whole request, so it can be sent again
	reqDone     bool // the whole request has been handed to the backend conn
	isHEAD      bool
	idempot     bool // method is idempotent (RFC 9110 §9.2.2): safe to retry
	keepAlive   bool // the client may send another request after this exchange
	upgrade     bool
	closeAfter  bool                       // the connection ends after this response
	respStarted bool                       // some byte of the final response reached the client
	bodyRefused bool                       // the backend answered before the body ended, and closes: the rest is dropped
	ops         clientOps                  // ops: the client's operations flags (ops.go)
	pool        *pool.Pool                 // routed at the head: every try of the request picks in it
	be          *backendConn               //
	out         *bytebufferpool.ByteBuffer // upstream request head (and body, when retained); nil outside an exchange
	ex          *exchange                  // the request's body and record; nil while idle (exchange.go)

	// phaseEnd: idle, when the keep-alive idle timeout ends (the timer
	// fires before, at ParkAfter, to park the client); linger, the latest
	// a lingering close may last.
	phaseEnd int64

	// Closing (closing, linger, aborting): when the owed output last
	// shrank (drainLeft); 0: not measured yet.
	drainSince int64

	qw *waiter // ops: its place in its pool's queue (queue.go); nil until it first waits
}

// backendConn is one connection to a backend, owned by one loop.
type backendConn struct {
	l     *loop
	sock  sock
	phase backendPhase
	b     *pool.Backend
	idx   int32 // position in l.backends; -1 when not listed
	tm    timer

	cl      *clientConn // the exchange it serves; nil when idle
	pooled  bool        // came out of the idle pool for this exchange (rather than dialed for it)
	queued  bool        // waits in the loop's line of dials (dial.go)
	gotResp bool        // some byte of the response arrived
	scanned int         // httpparse resume offset of a partial response head

	respBody      msgBody // what is still to come of the response body
	respKeepAlive bool
	dechunk       bool
}

// alive reports whether the client is neither closed nor gone (its socket
// closed, its teardown queued): nothing but the teardown touches it then.
func (cl *clientConn) alive() bool { return cl.phase != cpClosed && cl.sock.st != sockClosed }

// bind ties a client's exchange to a backend connection; the backend's
// request slot (Acquire) is the caller's and is given back by unbind.
func bind(cl *clientConn, be *backendConn) {
	cl.be = be
	be.cl = cl
	be.setPhase(bpRequest)
	be.gotResp = false
	be.scanned = 0
}

// unbind undoes bind and gives back the backend's request slot.
func unbind(cl *clientConn, be *backendConn) {
	cl.be = nil
	be.cl = nil
	releaseSlot(be) // ops: b.Release, and a queued request may take the slot (queue.go)
}

// idempotent reports whether method is idempotent (RFC 9110 §9.2.2), so
// that a request that may have reached a backend can be sent again.
func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// input returns the client's unconsumed bytes: the stash first, with what
// gnet read since appended to it. Valid until consume or the end of the
// callback.
func (cl *clientConn) input() []byte {
	if cl.stash.len() == 0 {
		if cl.sock.st != sockOn {
			return nil
		}
		b, _ := cl.sock.c.Peek(-1)
		return b
	}
	if cl.sock.st == sockOn && cl.sock.c.InboundBuffered() > 0 {
		b, _ := cl.sock.c.Next(-1)
		cl.stash.add(b)
	}
	return cl.stash.bytes()
}

// inputLen returns how many input bytes PILB holds for the client.
func (cl *clientConn) inputLen() int {
	n := cl.stash.len()
	if cl.sock.st == sockOn {
		n += cl.sock.c.InboundBuffered()
	}
	return n
}

// consume drops the first n bytes of input; n < 0 drops all of it.
func (cl *clientConn) consume(n int) {
	if cl.stash.len() > 0 {
		cl.stash.consume(n)
		if n >= 0 {
			return
		}
	}
	if cl.sock.st == sockOn && n != 0 {
		// gnet's Discard(0) drops everything: never what 0 means here.
		_, _ = cl.sock.c.Discard(n)
	}
}

// takeInput moves what gnet holds of the client's input into the stash,
// before the gnet connection goes.
func (cl *clientConn) takeInput() {
	if c := cl.sock.c; c.InboundBuffered() > 0 {
		b, _ := c.Next(-1)
		cl.stash.add(b)
	}
}

// stash keeps client input across the socket's time off the loop. It is
// consumed from the front without moving bytes (off), and compacted only
// when what is consumed is at least what is left, so each byte is moved
// at most once on average.
type stash struct {
	b   *bytebufferpool.ByteBuffer
	off int
}

var stashPool bytebufferpool.Pool

func (s *stash) len() int {
	if s.b == nil {
		return 0
	}
	return len(s.b.B) - s.off
}

// bytes returns the unconsumed stash; valid until the next add or consume.
func (s *stash) bytes() []byte {
	if s.b == nil {
		return nil
	}
	return s.b.B[s.off:]
}

func (s *stash) add(p []byte) {
	if len(p) == 0 {
		return
	}
	if s.b == nil {
		s.b = stashPool.Get()
	} else if s.off > 0 && s.off >= len(s.b.B)-s.off {
		s.b.B = s.b.B[:copy(s.b.B, s.b.B[s.off:])]
		s.off = 0
	}
	s.b.B = append(s.b.B, p...)
}

// consume drops n bytes from the front; n < 0 (or everything) empties the
// stash and gives its buffer back.
func (s *stash) consume(n int) {
	if s.b == nil {
		return
	}
	if n < 0 || s.off+n >= len(s.b.B) {
		s.release()
		return
	}
	s.off += n
}

func (s *stash) release() {
	if s.b != nil {
		stashPool.Put(s.b)
		s.b, s.off = nil, 0
	}
}
