package engine

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/pool"
)

// clientState is where a client connection is in its life. Transitions:
//
//	csIdle -> csHead      first byte of a request head
//	csHead -> csExchange  head parsed, request dispatched upstream
//	csExchange -> csIdle  response complete, connection kept alive
//	csExchange -> csTunnel  101 Switching Protocols
//	any -> csClosing      PILB's last response written; waiting for it to drain
//	csClosing -> csLinger output shut down; input discarded until EOF or timeout
type clientState uint8

const (
	csIdle clientState = iota
	csHead
	csExchange
	csTunnel
	csClosing
	csLinger
	csClosed
)

// clientConn is one client connection. It lives on one loop and is touched
// only by that loop's goroutine.
type clientConn struct {
	l     *loop
	c     gnet.Conn // nil once closed, and while detached by a pause
	state clientState
	idx   int // position in l.clients

	ip       []byte // client address, for X-Forwarded-For; set at accept
	scanned  int    // httpparse resume offset of a partial head
	deadline int64  // Unix nanoseconds: header, idle or linger deadline; 0 none

	// The exchange in progress (state csExchange or csTunnel).
	pool        *pool.Pool // routed at the head: every try of the request picks in it
	be          *backendConn
	out         *bytebufferpool.ByteBuffer // upstream request head (and body, when retained); nil outside an exchange
	retained    bool                       // out holds the whole request, so it can be sent again
	reqBody     msgBody                    // what is still to come of the request body
	reqDone     bool                       // the whole request has been handed to the backend conn
	minor       int                        // the client's HTTP minor version
	isHEAD      bool
	idempot     bool // method is idempotent (RFC 9110 §9.2.2): safe to retry
	keepAlive   bool // the client may send another request after this exchange
	upgrade     bool
	closeAfter  bool // the response head said Connection: close
	respStarted bool // some byte of the final response reached the client
	tries       int  // backends tried for this request

	// inTraffic is set while onClientTraffic runs, so that work finished
	// in a nested callback does not re-enter it (the outer loop goes on).
	inTraffic bool

	// Flow control (see pause.go).
	paused      bool   // detached from the loop: not read until resumed
	pausedFD    int    // the socket while paused
	stash       []byte // input read before a pause and not yet consumed
	watched     bool   // in l.watch
	resuming    bool   // being enrolled again after a pause
	closeOnOpen bool   // closed while resuming: close when it reopens
	failCode    int    // PILB's answer, owed to a client that was detached
	drainLeft   int    // output still waiting at the last drain check
	drainSince  int64  // when the output last shrank; 0: not measured yet
}

// backendState is where a backend connection is in its life.
type backendState uint8

const (
	bsDialing backendState = iota
	bsIdle                 // in the loop's ConnPool
	bsHead                 // request (being) sent; response head awaited
	bsBody                 // response body streaming to the client
	bsTunnel               // raw bytes both ways after a 101
	bsClosed
)

// backendConn is one connection to a backend, owned by one loop.
type backendConn struct {
	l     *loop
	c     gnet.Conn // nil while dialing, detached or closed
	b     *pool.Backend
	state backendState
	idx   int // position in l.backends; -1 when not listed

	cl       *clientConn // the exchange it serves; nil when idle
	pending  []byte      // bytes written while still dialing
	reused   bool        // has completed a response before
	gotResp  bool        // some byte of the response arrived
	scanned  int         // httpparse resume offset of a partial response head
	deadline int64       // response head or body inactivity deadline; 0 none

	respBody      msgBody // what is still to come of the response body
	respKeepAlive bool
	dechunk       bool

	abandoned bool // the client left while dialing or resuming: close on open

	paused   bool
	pausedFD int
	watched  bool
	resuming bool
}

// output is how many bytes wait in PILB to be written to the backend.
func (be *backendConn) output() int {
	if be.c == nil {
		return len(be.pending)
	}
	return be.c.OutboundBuffered() + len(be.pending)
}

// bind ties a client's exchange to a backend connection.
func bind(cl *clientConn, be *backendConn) {
	cl.be = be
	be.cl = cl
	be.state = bsHead
	be.gotResp = false
	be.scanned = 0
}

// unbind undoes bind; it leaves both states for the caller to set.
func unbind(cl *clientConn, be *backendConn) {
	if cl != nil {
		cl.be = nil
	}
	if be != nil {
		be.cl = nil
	}
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

// discard drops the first n input bytes of c; n < 0 drops them all. gnet's
// Discard drops everything for n == 0 too, which is never what a caller
// that consumed nothing means.
func discard(c gnet.Conn, n int) {
	if n != 0 {
		_, _ = c.Discard(n)
	}
}
