package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// This file is the socket half of a connection: where its file descriptor
// is with respect to the loop, and how bytes are written to it wherever it
// is. gnet cannot stop reading a connection, so PILB takes a socket off the
// loop to stop reading it (pause.go says when): the descriptor is duplicated
// and the gnet connection closed; the duplicate keeps the TCP connection
// open and unread. A socket is written to directly with write(2) wherever
// it is, so a response never waits for its client to be read again; what
// the kernel does not take is queued in PILB's own chunks (outq.go) and
// written when the socket can take more (writable.go).

// sockState is where a connection's socket is. The legal transitions are
// sockNext; setState checks them.
type sockState uint8

const (
	// sockDialing: a backend connect is under way off the loop; what is
	// written is held until it is registered (OnOpen).
	sockDialing sockState = iota
	// sockOn: registered with the loop, read through gnet; written
	// directly, the rest queued.
	sockOn
	// sockOff: off the loop, the descriptor (a duplicate) held in fd: not
	// read; written directly, the rest queued. Either paused, or the peer
	// ended its output (eof) while a response was owed to it.
	sockOff
	// sockReopening: being enrolled on the loop again; the descriptor
	// belongs to the enrolment, and what is written is held until OnOpen.
	sockReopening
	// sockClosed: gone; writes fail.
	sockClosed
)

var sockStateNames = [...]string{"dialing", "on", "off", "reopening", "closed"}

func (s sockState) String() string { return sockStateNames[s] }

// sockNext[s] has bit t set when s -> t is legal.
var sockNext = [...]uint8{
	sockDialing:   1<<sockOn | 1<<sockClosed,
	sockOn:        1<<sockOff | 1<<sockClosed,
	sockOff:       1<<sockReopening | 1<<sockClosed,
	sockReopening: 1<<sockOn | 1<<sockClosed,
	sockClosed:    0,
}

// sock is the socket of a client or backend connection.
type sock struct {
	c       gnet.Conn // while sockOn
	fd      int       // the duplicate while sockOff; -1 otherwise
	st      sockState //
	eof     bool      // the peer ended its output: nothing more will be read
	wrShut  bool      // PILB ended its output to the peer (shutdown(SHUT_WR))
	watched bool      // in the loop's drain watch (pause.go)
	opens   uint16    // reopens started: tells a late check of one from the next
	q       *outq     // output the kernel has not taken yet; nil when none
}

// errSockClosed is returned by write on a closed socket.
var errSockClosed = errors.New("engine: write on a closed socket")

// setState moves the socket to next, or panics on a transition that
// sockNext does not allow: a bug, which the loop's recovery turns into the
// loss of this one connection pair (guard.go).
func (s *sock) setState(next sockState) {
	if sockNext[s.st]&(1<<next) == 0 {
		panic(fmt.Sprintf("engine: socket %v -> %v", s.st, next))
	}
	if s.st == sockOn || s.st == sockOff {
		s.unwatchOut() // its descriptor is about to be closed or handed on
	}
	s.st = next
}

// out returns how many bytes wait in PILB to be written to the socket.
func (s *sock) out() int {
	n := s.heldLen()
	if s.st == sockOn {
		n += s.c.OutboundBuffered()
	}
	return n
}

// heldLen returns the bytes queued by PILB itself (not by gnet).
func (s *sock) heldLen() int {
	if s.q == nil {
		return 0
	}
	return s.q.n
}

// polled reports whether s has output queued that the drain poll has to
// write: it has a descriptor, and the write watch does not watch it (the
// loop has none, or epoll refused the socket).
func (s *sock) polled() bool {
	return s.q != nil && s.q.fd < 0 && (s.st == sockOn || s.st == sockOff)
}

// fdNow returns the descriptor to use for socket options now, or -1.
func (s *sock) fdNow() int {
	switch s.st {
	case sockOn:
		return s.c.Fd()
	case sockOff:
		return s.fd
	}
	return -1
}

// hold queues a copy of p, in a queue owned by owner.
func (s *sock) hold(m *outMem, owner watchItem, p []byte) {
	if s.q == nil {
		s.q = m.newQueue(owner)
	}
	s.q.append(p)
}

// takeHeld hands over the queued output; the caller releases it. The
// socket must have no descriptor (dialing).
func (s *sock) takeHeld() *outq {
	q := s.q
	s.q = nil
	return q
}

// dropHeld forgets the queued output.
func (s *sock) dropHeld() {
	if s.q != nil {
		s.unwatchOut()
		s.q.release()
		s.q = nil
	}
}

// watchOut puts s in its loop's write watch, if it has output queued and a
// descriptor, and is not watched yet.
func (s *sock) watchOut() {
	q := s.q
	if q == nil || q.fd >= 0 || q.w.ww == nil {
		return
	}
	if fd := s.fdNow(); fd >= 0 {
		q.w.ww.add(q, fd)
	}
}

// unwatchOut takes s out of the write watch, before its descriptor is
// closed or handed on.
func (s *sock) unwatchOut() {
	if q := s.q; q != nil && q.fd >= 0 {
		q.w.ww.remove(q)
	}
}

// write writes p to the socket wherever it is: straight to the kernel, and
// what it does not take is queued (outq.go) and written when the socket
// can take more (writable.go). owner is the connection s belongs to. On
// error the socket is broken and the caller ends it (sockFailed), unless
// s.st is sockClosed: gnet closed it already, and OnClose has run inside
// this call.
func (s *sock) write(m *outMem, owner watchItem, p []byte) error {
	switch s.st {
	case sockOn, sockOff:
		if s.q == nil {
			if s.st == sockOn && s.c.OutboundBuffered() > 0 {
				// gnet holds output (a write made through it): keep
				// the order.
				_, err := s.c.Write(p)
				return err
			}
			n, err := writeFD(s.fdNow(), p)
			if err != nil {
				return err
			}
			p = p[n:]
			if len(p) == 0 {
				return nil
			}
		}
		s.hold(m, owner, p)
		s.watchOut()
		return nil
	case sockDialing, sockReopening:
		s.hold(m, owner, p)
		return nil
	}
	return errSockClosed
}

// flush writes queued output to the kernel, wherever the socket is, and
// watches for room for the rest. It reports whether any byte left the
// queue; an error means the socket is broken (see write).
func (s *sock) flush() (progress bool, err error) {
	if s.heldLen() == 0 {
		return false, nil
	}
	fd := s.fdNow()
	if fd < 0 {
		return false, nil
	}
	n, err := s.q.writeTo(fd)
	if err != nil {
		return n > 0, err
	}
	if s.q.n == 0 {
		s.dropHeld()
	} else {
		s.watchOut()
	}
	return n > 0, nil
}

// writeFD writes what the kernel takes of p to a non-blocking descriptor.
func writeFD(fd int, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Write(fd, p[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, nil
		case err != nil:
			return n, err
		}
		n += k
	}
	return n, nil
}

// unsent returns the bytes in the kernel's send queue not yet acknowledged
// by the peer (SIOCOUTQ), or 0 when it cannot tell.
func (s *sock) unsent() int {
	fd := s.fdNow()
	if fd < 0 {
		return 0
	}
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return 0
	}
	return n
}

// detach takes an on-loop socket off the loop: the descriptor is
// duplicated and the gnet connection closed, so that gnet stops reading
// it. The caller has made sure gnet holds no output for it (gnet's close
// would cut that short) and has taken its unread input; PILB's queued
// output goes with the socket. OnClose then finds the socket off and keeps
// the connection's state.
func (l *loop) detach(s *sock) bool {
	fd, err := s.c.Dup()
	if err != nil {
		return false
	}
	c := s.c
	s.setState(sockOff)
	s.c, s.fd = nil, fd
	s.watchOut()
	l.closeGnet(c)
	return true
}

// reopen enrolls an off-loop socket on the loop again, with state as the
// gnet context: OnOpen finds it there and sets s.c. The descriptor passes
// to the enrolment; a failure comes back to the loop through failed.
func (l *loop) reopen(s *sock, state any, failed func()) {
	fd := s.fd
	s.fd = -1
	s.setState(sockReopening)
	s.opens++
	gen := s.opens
	go func() {
		if err := l.reenroll(state, fd); err != nil {
			l.exec(failed)
			return
		}
		// Registered, but OnOpen may not have run (see enroll): then
		// the socket is still reopening, from this reopen, when this runs.
		l.exec(func() {
			if s.st == sockReopening && s.opens == gen {
				failed()
			}
		})
	}()
}

// reenroll wraps a detached descriptor in a net.Conn and enrolls it on the
// loop; it runs off the loop.
func (l *loop) reenroll(state any, fd int) error {
	f := os.NewFile(uintptr(fd), "pilb-detached")
	nc, err := net.FileConn(f) // dups fd
	_ = f.Close()
	if err != nil {
		return err
	}
	return l.enroll(state, nc)
}

// enroll hands nc to this loop with state as its gnet context and waits for
// the registration; it runs off the loop.
//
// gnet's enrolment panics in its worker when nc has no remote address (a
// socket whose peer is already gone: getpeername fails), and its worker
// pool swallows the panic: the result channel closes with no result, as it
// does when registration fails after the fact. Neither may pass for a
// success, or the connection would wait for an OnOpen that never comes.
// And when epoll_ctl refuses the descriptor (ENOMEM, max_user_watches),
// gnet 2.9.7 closes it and still reports the connection registered,
// without an OnOpen: callers check, in a task queued once this returns
// (after any OnOpen of the enrolment), that their socket left its
// dialing or reopening state.
func (l *loop) enroll(state any, nc net.Conn) error {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); !ok || a == nil {
		_ = nc.Close()
		return errPeerGone
	}
	ch, err := l.el.Enroll(gnet.NewContext(context.Background(), state), nc)
	if err != nil {
		_ = nc.Close()
		return err
	}
	res, ok := <-ch
	switch {
	case !ok || res.Conn == nil && res.Err == nil:
		return errNotRegistered
	case res.Err != nil:
		return res.Err
	}
	return nil
}

var (
	errPeerGone      = errors.New("engine: socket's peer is gone")
	errNotRegistered = errors.New("engine: gnet did not register the connection")
)

// reopened records the gnet connection of a socket back on the loop (or
// connected) and writes what was queued meanwhile. It returns false when
// that write failed: the socket is shut and its owner's teardown queued.
func (l *loop) reopened(s *sock, c gnet.Conn, owner watchItem) bool {
	s.c = c
	s.setState(sockOn)
	if _, err := s.flush(); err != nil {
		if s.st != sockClosed {
			l.sockFailed(owner.cl, owner.be, err)
		}
		return false
	}
	return true
}

// shut closes the socket for good, whatever its state; rst makes the close
// a reset (SO_LINGER 0), so that the peer sees a cut response as cut. A
// socket being dialed or reopened is closed by its OnOpen, which finds the
// connection closed.
func (l *loop) shut(s *sock, rst bool) {
	s.dropHeld()
	switch s.st {
	case sockOn:
		c := s.c
		if rst {
			_ = c.SetLinger(0)
		}
		s.setState(sockClosed)
		s.c = nil
		l.closeGnet(c)
	case sockOff:
		if rst {
			_ = unix.SetsockoptLinger(s.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
		_ = unix.Close(s.fd)
		s.fd = -1
		s.setState(sockClosed)
	}
}

// shutWrite sends FIN after the output (shutdown(SHUT_WR)).
func (s *sock) shutWrite() error {
	fd := s.fdNow()
	if fd < 0 {
		return errSockClosed
	}
	s.wrShut = true
	return unix.Shutdown(fd, unix.SHUT_WR)
}

// closeGnet closes a gnet connection of this loop. The connection whose
// OnTraffic or OnOpen is running is closed by the Close action that
// callback returns instead (guard.go), so that gnet never handles a
// connection it has already released.
func (l *loop) closeGnet(c gnet.Conn) {
	if c == l.cur {
		l.curClose = true
		return
	}
	_ = l.el.Close(c)
}
