package engine

import (
	"errors"
	"net"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/pool"
)

// This file opens backend connections and takes them back: dials, the
// line of dials waiting for a slot, the idle pool.
//
// gnet cannot register a socket whose connect is still in progress, so
// each connect is a goroutine off the loop, which then enrolls the socket
// on the loop. At most maxDials run at once per loop; more wait in line,
// each with its exchange's request held. A connection that goes idle while
// requests wait for a connection to its backend is handed to the oldest of
// them at once, and that request's dial is dropped before it starts: in a
// burst of new clients, responses that complete free connections far
// faster than dials open them.

// maxDials bounds the connects a loop has under way; more wait in line.
// Each connect is a goroutine with its stack and an enrolment: 8,000 new
// clients at once used to start 8,000 of them, which cost some 80 MB and
// starved the loop of its core. A loopback connect and its enrolment take
// some tens of microseconds, so 64 at a time still open thousands of
// connections a second, and hand-offs serve most waiting requests sooner.
const maxDials = 64

// newBackendConn returns a dialing backend connection to b, listed.
func (l *loop) newBackendConn(b *pool.Backend) *backendConn {
	be := &backendConn{l: l, b: b, sock: sock{fd: -1}}
	be.tm.be = be
	b.ConnOpened()
	l.dialing[b]++
	l.addBackend(be)
	return be
}

// dial returns a new connection to b, its connect started or queued; what
// is written to it meanwhile is held.
func (l *loop) dial(b *pool.Backend) *backendConn {
	be := l.newBackendConn(b)
	if l.dials < maxDials {
		l.startDial(be)
		return be
	}
	be.queued = true
	l.dialQueue.push(be)
	l.waiting[b] = append(l.waiting[b], be)
	return be
}

// startDial connects be without blocking the loop: a goroutine dials with
// ConnectTimeout and enrolls the socket on this loop, whose OnOpen then
// finds the backendConn in the connection's context. A failure comes back
// to the loop through exec.
func (l *loop) startDial(be *backendConn) {
	l.dials++
	addr, timeout := be.b.Addr, l.cfg.ConnectTimeout
	go func() {
		d := net.Dialer{Timeout: timeout}
		nc, err := d.Dial("tcp", addr)
		if err == nil {
			err = l.enroll(be, nc)
		}
		if err != nil {
			l.exec(func() { l.dialFailed(be, err) })
			return
		}
		l.exec(func() { // registered without an OnOpen (see enroll)
			if be.sock.st == sockDialing {
				l.dialFailed(be, errNotRegistered)
			}
		})
	}()
}

// dialDone counts a connect finished (opened or failed) and starts queued
// ones. A queued connection that no request waits for any more (its
// client left, or it was handed another connection) is not dialed.
func (l *loop) dialDone(be *backendConn) {
	l.dialing[be.b]--
	l.dials--
	for l.dials < maxDials {
		next, ok := l.dialQueue.pop()
		if !ok {
			break
		}
		if !next.queued {
			continue // handed off, its entry was left behind
		}
		next.queued = false
		if next.cl == nil || next.phase != bpRequest {
			l.dropQueued(next)
			continue
		}
		l.startDial(next)
	}
}

// dropQueued forgets a queued connection that is not dialed after all.
func (l *loop) dropQueued(be *backendConn) {
	be.queued = false
	l.dialing[be.b]--
	if be.phase != bpClosed {
		be.setPhase(bpClosed)
	}
	be.sock.dropHeld()
	be.sock.setState(sockClosed)
	l.forgetBackendConn(be, false)
}

// takeWaiting returns the oldest queued connection to b whose request
// still waits, taking it out of line, or nil.
func (l *loop) takeWaiting(b *pool.Backend) *backendConn {
	q := l.waiting[b]
	for len(q) > 0 {
		be := q[0]
		q[0] = nil
		q = q[1:]
		if be.queued && be.cl != nil && be.phase == bpRequest {
			l.waiting[b] = q
			return be
		}
	}
	delete(l.waiting, b)
	return nil
}

// handOff gives the idle connection be, instead of a dial, to the request
// waiting on the queued connection q: the request bound to q moves to be
// with what q held, and q is dropped. The backend's request slot goes
// with the request.
func (l *loop) handOff(be, q *backendConn) {
	cl := q.cl
	held := q.sock.held
	q.sock.held = nil
	q.cl, cl.be = nil, nil
	deadline := q.tm.when
	l.dropQueued(q) // its entry in dialQueue is skipped when reached
	cl.be, be.cl = be, cl
	be.setPhase(bpRequest)
	be.gotResp, be.scanned = false, 0
	be.pooled = true // fresh from a response: the keep-alive race applies
	l.wheel.set(&be.tm, deadline)
	if held != nil {
		l.writeBackend(be, held.B)
		heldPool.Put(held)
	}
}

// backendOpened runs on the loop when a dialed or resumed connection is
// registered.
func (l *loop) backendOpened(be *backendConn, c gnet.Conn) {
	if be.sock.st == sockReopening {
		if !be.sock.reopened(c) {
			return
		}
		if be.phase == bpClosed {
			l.shut(&be.sock, false)
			return
		}
		if be.cl == nil {
			l.closeBackend(be)
			return
		}
		if be.phase == bpBody {
			l.wheel.set(&be.tm, l.now+int64(l.cfg.BackendTimeout))
		}
		// What arrived meanwhile is read once gnet polls the socket.
		return
	}
	l.dialDone(be)
	if be.phase == bpClosed {
		be.sock.c = c
		be.sock.setState(sockOn)
		l.shut(&be.sock, false)
		return
	}
	if !be.sock.reopened(c) {
		return // the request's write failed: its teardown is queued
	}
	if be.phase == bpIdle {
		l.idleBackend(be) // a pre-dial, or its client left while it dialed
	}
}

// idleBackend puts a connection whose exchange ended back in the pool, or
// hands it to a request waiting for a connection to its backend, or closes
// it when the pool is full or the proxy is draining.
func (l *loop) idleBackend(be *backendConn) {
	if be.phase != bpIdle {
		be.setPhase(bpIdle)
	}
	l.wheel.set(&be.tm, 0)
	be.sock.dropHeld()
	if l.srv.draining.Load() || be.b.Draining() {
		l.closeBackend(be)
		return
	}
	if q := l.takeWaiting(be.b); q != nil {
		l.handOff(be, q)
		return
	}
	if !l.pool.Put(be.b, be, l.now) {
		l.closeBackend(be)
	}
}

// dialFailed runs on the loop when a connect (or its enrolment) failed.
func (l *loop) dialFailed(be *backendConn, err error) {
	l.dialDone(be)
	held := be.sock.held
	be.sock.held = nil
	be.sock.setState(sockClosed)
	cl := be.cl
	if be.phase != bpClosed {
		be.setPhase(bpClosed)
	}
	l.forgetBackendConn(be, false)
	if localExhaustion(err) {
		// Out of descriptors or memory here: not the backend's fault,
		// and ejecting it would only spread the failure.
		l.srv.log.Warn("backend connect failed for lack of local resources", "backend", be.b.ID, "err", err)
	} else {
		var p *pool.Pool
		if cl != nil {
			p = cl.pool
		}
		l.reportFailure(p, be.b, err)
	}
	defer func() {
		if held != nil {
			heldPool.Put(held)
		}
	}()
	if cl == nil {
		return
	}
	unbind(cl, be)
	if !cl.alive() {
		return
	}
	// Nothing reached the backend, and everything of the request handed
	// to it so far was held: a retry is safe whatever the method and
	// however much of the body has streamed.
	if int(cl.tries) < maxTries && held != nil {
		l.refreshPool(cl)
		l.dispatch(cl, held.B)
		return
	}
	l.failExchange(cl, 502, ErrConnect, fromBackend)
}

// localExhaustion reports whether err is this process or host running out
// of descriptors, ports or memory, rather than the peer failing.
func localExhaustion(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EADDRNOTAVAIL)
}

// refreshPool points a request that goes to a backend again (a retry, a
// queued request's turn) at its pool in the current table. The table it
// was routed with may be old by then: its pool still lists a backend that
// drains or left (a DNS change, a deregistration) and misses one added
// since, so that a retry there fails (503) while the pool has a backend.
// Only retries and queue turns pay the lookup, not the request path.
func (l *loop) refreshPool(cl *clientConn) {
	if p := l.cfg.Routes.Load().Pool(cl.pool.Name()); p != nil {
		cl.pool = p
	}
}
