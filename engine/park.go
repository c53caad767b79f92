package engine

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Parking idle keep-alive clients.
//
// Most of what an idle keep-alive client costs is gnet's: its connection
// state, its addresses and its buffers' bookkeeping, about 0.5 KiB, held
// as long as the client is registered. A client idle for
// Config.ParkAfter is parked instead: its socket is taken off the loop as
// a pause takes one (sock.go: the descriptor duplicated, the gnet
// connection closed) and put in the loop's park set, an epoll instance of
// PILB's own that watches it for input (EPOLLONESHOT). When the client
// sends its next request, resets or ends its output, the park set reports
// it, and the socket is enrolled on the loop again (reopenClient), where
// gnet reads what it sent. The idle deadline runs on while it is parked.
//
// The park set's epoll descriptor is itself pollable: the Go runtime's
// network poller waits for it (os.File's RawConn.Read), so no thread
// blocks for it, and a goroutine per loop hands what is ready to the loop
// with EventLoop.Execute. An event may come for a client that has left
// the slot since (a race with its deadline): it finds the slot empty, or
// wakes the slot's next client, which goes back on the loop and is parked
// again later; nothing is lost either way.

// parkSet is a loop's park set.
type parkSet struct {
	ep     *os.File      // the epoll instance, for the runtime's poller; nil until the first park
	epfd   int           // its descriptor (os.File.Fd would make it blocking)
	slots  []*clientConn // parked clients by slot; nil entries are free
	free   []int32       // free slots
	broken bool          // the park set failed: nothing is parked
	closed atomic.Bool   // closeParkSet ran: the waiting goroutine ends
}

// parkReadyEvents is how many events one epoll_wait of the park set takes.
const parkReadyEvents = 128

// park takes an idle keep-alive client off the loop into the park set. It
// does nothing when the client is not quiet: input or output pending, or
// its socket not on the loop.
func (l *loop) park(cl *clientConn) {
	if cl.phase != cpIdle || cl.sock.st != sockOn || cl.sock.watched || cl.inputLen() > 0 || cl.sock.out() > 0 {
		return
	}
	if l.parks.broken || l.parks.ep == nil && !l.openParkSet() {
		return
	}
	if !l.detach(&cl.sock) {
		return
	}
	slot := l.parks.take(cl)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: slot}
	if err := unix.EpollCtl(l.parks.epfd, unix.EPOLL_CTL_ADD, cl.sock.fd, &ev); err != nil {
		l.parks.release(slot)
		l.reopenClient(cl) // cannot watch it: back on the loop
		return
	}
	cl.parked = slot + 1
	l.srv.parked.Add(1)
	l.srv.parks.Add(1)
}

// unpark takes cl out of the park set, if it is there; its socket stays
// off the loop, for the caller to reopen or close.
func (l *loop) unpark(cl *clientConn) {
	if cl.parked == 0 {
		return
	}
	slot := cl.parked - 1
	cl.parked = 0
	_ = unix.EpollCtl(l.parks.epfd, unix.EPOLL_CTL_DEL, cl.sock.fd, nil)
	l.parks.release(slot)
	l.srv.parked.Add(-1)
}

// take gives cl a slot.
func (p *parkSet) take(cl *clientConn) int32 {
	if n := len(p.free); n > 0 {
		slot := p.free[n-1]
		p.free = p.free[:n-1]
		p.slots[slot] = cl
		return slot
	}
	p.slots = append(p.slots, cl)
	return int32(len(p.slots) - 1)
}

// release frees a slot.
func (p *parkSet) release(slot int32) {
	p.slots[slot] = nil
	p.free = append(p.free, slot)
}

// openParkSet creates the loop's park set and the goroutine that waits on
// it. It reports false when epoll or the poller refuse: then nothing is
// parked on this loop.
func (l *loop) openParkSet() bool {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return false
	}
	// Non-blocking, so os.NewFile puts it in the runtime's poller; a
	// deadline can be set only on a file in it.
	f := os.NewFile(uintptr(fd), "pilb-park")
	if f.SetReadDeadline(time.Time{}) != nil {
		_ = f.Close()
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return false
	}
	l.parks.ep, l.parks.epfd = f, fd
	go l.waitParked(rc)
	return true
}

// waitParked runs off the loop: it waits until parked clients are ready
// and hands their slots to the loop, until the park set is closed.
func (l *loop) waitParked(rc syscall.RawConn) {
	events := make([]unix.EpollEvent, parkReadyEvents)
	for {
		var ready []int32
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.EpollWait(int(fd), events, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				for _, ev := range events[:n] {
					ready = append(ready, ev.Fd)
				}
				if n < len(events) {
					return len(ready) > 0 // nothing: wait for the poller
				}
			}
		})
		if l.parks.closed.Load() {
			return // the engine has stopped
		}
		if err != nil || werr != nil {
			// Nothing else is expected to fail; should it, every
			// parked client goes back on the loop, and none is parked
			// again: a parked client's request must not wait unseen.
			l.exec(l.parkSetFailed)
			return
		}
		if len(ready) == 0 {
			continue
		}
		if !l.exec(func() { l.unparkReady(ready) }) {
			return
		}
	}
}

// unparkReady runs on the loop: the clients in slots have input (or an
// error) waiting, and go back on the loop.
func (l *loop) unparkReady(slots []int32) {
	for _, slot := range slots {
		if int(slot) >= len(l.parks.slots) {
			continue
		}
		if cl := l.parks.slots[slot]; cl != nil {
			l.safely(cl, nil, func() { l.unparkOne(cl) })
		}
	}
}

// unparkOne handles a parked client the park set reported. A client that
// closed or reset without sending anything (the common end of a
// keep-alive connection) is torn down here, as gnet would on its EOF:
// putting it back on the loop only for gnet to read that EOF would cost a
// re-enrolment, with its two goroutines, per client, thousands of them
// at once when a crowd of idle clients leaves together. A client with
// input goes back on the loop, where gnet reads it.
func (l *loop) unparkOne(cl *clientConn) {
	if err := parkedGone(cl.sock.fd); err != nil {
		l.unpark(cl)
		l.shut(&cl.sock, false)
		l.gone = append(l.gone, gone{cl: cl, err: err})
		return
	}
	l.reopenClient(cl)
}

// parkedGone peeks at a parked socket: it returns io.EOF when the peer
// ended its output with nothing before it, the socket's error when it
// failed (a reset), and nil when there is input to read, or nothing after
// all (the socket goes back on the loop, which waits for it).
func parkedGone(fd int) error {
	var b [1]byte
	for {
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil
		case err != nil:
			return err
		case n == 0:
			return io.EOF
		}
		return nil
	}
}

// parkSetFailed puts every parked client back on the loop and stops
// parking on this loop.
func (l *loop) parkSetFailed() {
	l.parks.broken = true
	for _, cl := range l.parks.slots {
		if cl != nil {
			l.safely(cl, nil, func() { l.reopenClient(cl) })
		}
	}
}

// closeParkSet closes the park set once the engine has stopped, which ends
// its goroutine; closeDetached closes the parked sockets.
func (l *loop) closeParkSet() {
	if l.parks.ep != nil {
		l.parks.closed.Store(true)
		_ = l.parks.ep.Close()
	}
}
