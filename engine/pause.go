package engine

import (
	"math"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Flow control.
//
// gnet has no pause-read: a connection registered on a loop is read
// whenever it is readable, and what OnTraffic leaves is buffered without
// limit. So when a peer does not keep up (its pending output is past
// Config.HighWater), PILB takes the fast side's socket off the loop
// (sock.go: duplicate the descriptor, close the gnet connection): nothing
// is read, the kernel's receive buffer fills, and TCP flow control pushes
// back on the sender. Once the slow side's output is below a quarter of
// HighWater, the socket is enrolled on the loop again.
//
//   - A backend is paused when its client's output passes HighWater, and
//     resumed when it is below HighWater/4.
//   - A client is paused when its backend's output passes HighWater (a body
//     faster than the backend reads it), or when more than HighWater of
//     pipelined input waits behind the request in flight; it is resumed
//     when the backend drained, or when its stashed input is consumed and
//     more is needed.
//
// A socket is only taken off with no output of its own in gnet (gnet's
// close would cut that short) and with all its input consumed or stashed,
// so no byte is lost. When a pause cannot happen yet, it is tried again at
// the next read; meanwhile every buffer PILB holds for a connection is
// capped at maxHeld (twice HighWater plus one read), past which the
// connection is reset: a peer that neither reads nor stops sending is not
// buffered for.
//
// gnet has no drain callback either, so the loop polls what waits on a
// drain: the watch list holds only those connections (paused ones, closing
// ones, off-loop ones with held output), never the others. The poll runs
// every millisecond after a change, and backs off to tickSlow while
// nothing moves. A client that reads none of its waiting output for
// IdleTimeout is cut off (drainStalled), so no wait lasts for ever.

const (
	// pollFast is the drain poll's period right after a pause or any
	// progress: it bounds the stall of a fast reader per HighWater round.
	pollFast = time.Millisecond
)

// pauseBackend takes be off the loop until its client drains. It does
// nothing when be cannot be paused now (output of its own pending): the
// next read tries again.
func (l *loop) pauseBackend(be *backendConn) {
	if be.sock.st != sockOn {
		return
	}
	if be.sock.c.OutboundBuffered() > 0 || be.sock.c.InboundBuffered() > 0 {
		l.checkHeld(be.cl)
		return
	}
	if !l.detach(&be.sock) {
		return
	}
	l.srv.pauses.Add(1)
	l.wheel.set(&be.tm, 0) // the client's drain is watched instead
	if cl := be.cl; cl != nil {
		cl.drainSince = 0 // a new wait: measure its progress from now
	}
	l.watchBackend(be)
}

// checkHeld resets a client whose output is past maxHeld: a pause could
// not stop its backend, and the client is not reading.
func (l *loop) checkHeld(cl *clientConn) {
	if cl != nil && cl.sock.out() > l.maxHeld {
		l.resetClient(cl, ErrOverflow)
	}
}

// pauseClient stops reading cl: it takes cl off the loop (what gnet read
// of its input moves to the stash), unless gnet holds output for it (see
// pauseBackend). When the cause is its backend not keeping up, the drain
// watch serves the client again once the backend has drained, whether the
// pause happened or not.
func (l *loop) pauseClient(cl *clientConn) {
	if cl.sock.st == sockOn && cl.sock.c.OutboundBuffered() == 0 {
		cl.takeInput()
		if l.detach(&cl.sock) {
			l.srv.pauses.Add(1)
		}
	}
	switch {
	case cl.phase == cpTunnel:
		l.watchClient(cl) // the tunnel's clock runs on
	case cl.phase == cpExchange && !cl.reqDone && cl.be != nil:
		l.armDeadlines(cl, cl.be) // the backend is not reading: its clock runs
		l.watchClient(cl)
	}
	// Otherwise pipelined input waits: the end of the response serves the
	// stash, and needInput resumes the client when it is consumed.
}

// needInput is called when serveClient has consumed all the input it
// holds and wants more: an off-loop client goes back on the loop, unless
// it ended its output, in which case it is closed, answered or dropped.
func (l *loop) needInput(cl *clientConn) {
	switch cl.sock.st {
	case sockOff:
		if !cl.sock.eof {
			l.reopenClient(cl)
			return
		}
	case sockOn:
		return
	default:
		return // on its way back
	}
	// The client ended its output and all of it is consumed.
	switch cl.phase {
	case cpIdle, cpHead:
		l.closeClient(cl)
	case cpExchange:
		if !cl.reqDone {
			l.failExchange(cl, 400, ErrIncompleteBody, fromClient)
		}
	case cpTunnel:
		l.tunnelInputEnded(cl)
	}
}

// tunnelInputEnded passes the end of a tunnel client's output on to the
// backend, once all the client sent has been written to it (a FIN must
// follow the data): shutdown(SHUT_WR), as HAProxy forwards a shutdown. The
// tunnel stays open for what the backend still sends, until it closes.
func (l *loop) tunnelInputEnded(cl *clientConn) {
	be := cl.be
	switch {
	case be == nil:
		l.closeClient(cl)
	case be.sock.wrShut:
	case be.sock.out() > 0 || be.sock.fdNow() < 0:
		l.watchClient(cl) // the drain poll comes back through serveClient
	case be.sock.shutWrite() != nil:
		l.closeClient(cl)
	}
}

// reopenClient puts an off-loop client back on the loop; its OnOpen
// (clientReopened) goes on where it stands.
func (l *loop) reopenClient(cl *clientConn) {
	l.unpark(cl)
	l.reopen(&cl.sock, cl, func() {
		if cl.sock.st == sockReopening {
			cl.sock.setState(sockClosed)
			l.gone = append(l.gone, gone{cl: cl, err: ErrReenroll})
		}
	})
}

// reopenBackend puts a paused backend connection back on the loop.
func (l *loop) reopenBackend(be *backendConn) {
	l.reopen(&be.sock, be, func() {
		if be.sock.st == sockReopening {
			be.sock.setState(sockClosed)
			l.gone = append(l.gone, gone{be: be, err: ErrReenroll})
		}
	})
}

// watchClient and watchBackend make the drain poll look at a connection
// until it no longer waits on a drain.
func (l *loop) watchClient(cl *clientConn) {
	if !cl.sock.watched {
		cl.sock.watched = true
		l.watch = append(l.watch, watchItem{cl: cl})
		l.pollSoon()
	}
}

func (l *loop) watchBackend(be *backendConn) {
	if !be.sock.watched {
		be.sock.watched = true
		l.watch = append(l.watch, watchItem{be: be})
		l.pollSoon()
	}
}

// pollSoon sets the drain poll to its fastest period and wakes the ticker.
func (l *loop) pollSoon() {
	if l.pollEvery.Swap(int64(pollFast)) != int64(pollFast) {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// pollWatch looks at every watched connection once. The poll period
// adapts: fast while something moves, doubling up to tickSlow while
// nothing does, off when nothing is watched.
func (l *loop) pollWatch() {
	items := l.watch
	l.watch = l.watchSpare[:0]
	progress := false
	for _, it := range items {
		var keep, moved bool
		if it.cl != nil {
			it.cl.sock.watched = false
			l.safely(it.cl, nil, func() { keep, moved = l.checkClient(it.cl) })
			if keep && !it.cl.sock.watched && it.cl.alive() {
				it.cl.sock.watched = true
				l.watch = append(l.watch, it)
			}
		} else {
			it.be.sock.watched = false
			l.safely(nil, it.be, func() { keep, moved = l.checkBackend(it.be) })
			if keep && !it.be.sock.watched && it.be.phase != bpClosed {
				it.be.sock.watched = true
				l.watch = append(l.watch, it)
			}
		}
		progress = progress || moved
	}
	clear(items)
	l.watchSpare = items[:0]
	switch every := time.Duration(l.pollEvery.Load()); {
	case len(l.watch) == 0:
		l.pollEvery.Store(0)
	case progress:
		l.pollEvery.Store(int64(pollFast))
	default:
		l.pollEvery.Store(int64(min(max(2*every, pollFast), tickSlow)))
	}
}

// checkClient acts on a watched client and reports whether to keep
// watching it and whether anything moved.
func (l *loop) checkClient(cl *clientConn) (keep, moved bool) {
	if !cl.alive() {
		return false, false
	}
	if cl.sock.heldOff() {
		p, err := cl.sock.flush()
		if err != nil {
			l.sockFailed(cl, nil, err)
			return false, false
		}
		moved = p
	}
	switch cl.phase {
	case cpClosing:
		if l.drainStalled(cl, cl.sock.out()) {
			l.resetClient(cl, ErrClientStalled)
			return false, moved
		}
		return l.closing(cl), moved
	case cpAborting:
		if l.drainStalled(cl, cl.sock.out()+cl.sock.unsent()) {
			l.resetClient(cl, ErrClientStalled)
			return false, moved
		}
		return l.aborting(cl), moved
	case cpExchange, cpTunnel:
		if be := cl.be; be != nil && (cl.phase == cpTunnel || !cl.reqDone) {
			// Held back for its backend's sake.
			if be.sock.out() <= l.cfg.HighWater/4 {
				l.serveClient(cl)
				return cl.alive() && cl.sock.heldOff(), true
			}
			return true, moved
		}
	}
	return cl.sock.heldOff(), moved
}

// checkBackend acts on a watched backend connection (see checkClient).
func (l *loop) checkBackend(be *backendConn) (keep, moved bool) {
	if be.phase == bpClosed {
		return false, false
	}
	if be.sock.heldOff() {
		p, err := be.sock.flush()
		if err != nil {
			l.sockFailed(nil, be, err)
			return false, false
		}
		moved = p
	}
	if be.sock.st != sockOff {
		return false, moved
	}
	cl := be.cl
	if cl == nil || !cl.alive() {
		l.closeBackend(be)
		return false, moved
	}
	if cl.sock.out() <= l.cfg.HighWater/4 {
		l.reopenBackend(be)
		return false, true
	}
	if l.drainStalled(cl, cl.sock.out()) {
		l.abortExchange(be, ErrClientStalled)
		return false, moved
	}
	return true, moved
}

// drainStalled reports whether a client owed n bytes has read none of
// what it is owed for IdleTimeout: a client that stopped reading would
// otherwise hold its connection, and a paused backend connection, for ever.
func (l *loop) drainStalled(cl *clientConn, owed int) bool {
	n := int32(min(owed, math.MaxInt32)) // past 2 GiB, progress shows all the same
	if n < cl.drainLeft || cl.drainSince == 0 {
		cl.drainLeft, cl.drainSince = n, l.now
		return false
	}
	cl.drainLeft = n
	return l.now-cl.drainSince > int64(l.cfg.IdleTimeout)
}

// clientReopened runs from OnOpen when an off-loop client is back on the
// loop: it goes on where it stands.
func (l *loop) clientReopened(cl *clientConn, c gnet.Conn) {
	if !cl.sock.reopened(c) {
		return // the held output's write failed: its teardown is queued
	}
	switch cl.phase {
	case cpClosed:
		l.shut(&cl.sock, true) // reset or gone while it was off
	case cpClosing:
		l.closing(cl)
	case cpAborting:
		l.aborting(cl)
	default:
		if be := cl.be; be != nil && cl.phase == cpExchange && !cl.reqDone {
			l.armDeadlines(cl, be)
		}
		if cl.phase == cpIdle && cl.phaseEnd > l.now {
			l.idleTimer(cl) // back from the park set (or a pause): parked again if it stays quiet
		}
		l.serveClient(cl)
	}
}
