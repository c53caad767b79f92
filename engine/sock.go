package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"
)

// This file is the socket half of a connection: where its file descriptor
// is with respect to the loop, and how bytes are written to it wherever it
// is. gnet cannot stop reading a connection, so PILB takes a socket off the
// loop to stop reading it (pause.go says when): the descriptor is duplicated
// and the gnet connection closed; the duplicate keeps the TCP connection
// open and unread. A socket off the loop is still written to, directly with
// write(2), so a response never waits for its client to be read again; what
// the kernel does not take is held and flushed by the loop's drain poll.

// sockState is where a connection's socket is. The legal transitions are
// sockNext; setState checks them.
type sockState uint8

const (
	// sockDialing: a backend connect is under way off the loop; what is
	// written is held until it is registered (OnOpen).
	sockDialing sockState = iota
	// sockOn: registered with the loop, read and written through gnet.
	sockOn
	// sockOff: off the loop, the descriptor (a duplicate) held in fd: not
	// read; written directly, the rest held. Either paused, or the peer
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
	c       gnet.Conn                  // while sockOn
	fd      int                        // the duplicate while sockOff; -1 otherwise
	st      sockState                  //
	eof     bool                       // the peer ended its output: nothing more will be read
	wrShut  bool                       // PILB ended its output to the peer (shutdown(SHUT_WR))
	watched bool                       // in the loop's drain watch (pause.go)
	opens   uint16                     // reopens started: tells a late check of one from the next
	held    *bytebufferpool.ByteBuffer // output not yet handed to the kernel or to gnet; nil when none
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
	s.st = next
}

// out returns how many bytes wait in PILB to be written to the socket.
func (s *sock) out() int {
	n := 0
	if s.held != nil {
		n = len(s.held.B)
	}
	if s.st == sockOn {
		n += s.c.OutboundBuffered()
	}
	return n
}

// heldLen returns the bytes held by PILB itself (not by gnet).
func (s *sock) heldLen() int {
	if s.held == nil {
		return 0
	}
	return len(s.held.B)
}

// heldOff reports whether s is off the loop with output held for it: the
// drain poll has to flush it, gnet cannot.
func (s *sock) heldOff() bool { return s.st == sockOff && s.heldLen() > 0 }

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

// heldPool keeps the buffers of held output.
var heldPool bytebufferpool.Pool

func (s *sock) hold(p []byte) {
	if s.held == nil {
		s.held = heldPool.Get()
	}
	s.held.B = append(s.held.B, p...)
}

func (s *sock) dropHeld() {
	if s.held != nil {
		heldPool.Put(s.held)
		s.held = nil
	}
}

// write writes p to the socket wherever it is. On error the socket is
// broken: for a socket on the loop gnet has closed it already, and OnClose
// has run inside this call (s.st is sockClosed); for one off the loop the
// caller ends it. segs is the loop's scratch for cutting a large p (see
// writeSegment).
func (s *sock) write(p []byte, segs *[][]byte) error {
	switch s.st {
	case sockOn:
		if len(p) <= writeSegment {
			_, err := s.c.Write(p)
			return err
		}
		*segs = splitSegments((*segs)[:0], p)
		_, err := s.c.Writev(*segs)
		clear(*segs) // keep no reference to p past this call
		return err
	case sockOff:
		if s.heldLen() == 0 {
			n, err := writeFD(s.fd, p)
			if err != nil {
				return err
			}
			p = p[n:]
		}
		if len(p) > 0 {
			s.hold(p)
		}
		return nil
	case sockDialing, sockReopening:
		s.hold(p)
		return nil
	}
	return errSockClosed
}

// writeSegment is the largest piece of one write PILB hands gnet. A read
// is up to readBufferCap (128 KiB); what a slow peer's socket does not take
// of it, gnet copies into its outbound buffer, one piece per element of
// the write, each from a size-classed sync.Pool that the garbage collector
// empties. Pieces of 256 KiB made a slow 2 MiB/s download grow the
// process by 2.0-2.3 MB; pieces of 64 KiB, handed in one writev (one
// system call, as before), by 1.0-1.3 MB (16 MiB through one loop,
// /proc/PID/status RssAnon, two runs each). In pilb-bench hostile, three
// rounds: download growth 2.85 MB against 3.42, upload 2.91 against 3.19,
// the same CPU per request (12.3 µs) and 1 MiB download times
// (bench/reports/2026-11-30-hostile-segments).
const writeSegment = 64 << 10

// splitSegments appends p to segs cut in pieces of at most writeSegment.
func splitSegments(segs [][]byte, p []byte) [][]byte {
	for len(p) > writeSegment {
		segs = append(segs, p[:writeSegment])
		p = p[writeSegment:]
	}
	return append(segs, p)
}

// flush hands held output on: to gnet for a socket on the loop, to the
// kernel for one off it. It reports whether any byte left the hold; an
// error means the socket is broken (see write).
func (s *sock) flush() (progress bool, err error) {
	if s.heldLen() == 0 {
		return false, nil
	}
	switch s.st {
	case sockOn:
		p := s.held.B
		s.held.B = nil // gnet copies; a failed write closes s
		heldPool.Put(s.held)
		s.held = nil
		_, err := s.c.Write(p)
		return true, err
	case sockOff:
		n, err := writeFD(s.fd, s.held.B)
		if err != nil {
			return false, err
		}
		if n == len(s.held.B) {
			s.dropHeld()
		} else {
			s.held.B = s.held.B[:copy(s.held.B, s.held.B[n:])]
		}
		return n > 0, nil
	}
	return false, nil
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
// would cut that short) and has taken its unread input. OnClose then finds
// the socket off and keeps the connection's state.
func (l *loop) detach(s *sock) bool {
	fd, err := s.c.Dup()
	if err != nil {
		return false
	}
	c := s.c
	s.setState(sockOff)
	s.c, s.fd = nil, fd
	l.closeGnet(c)
	return true
}

// reopen enrolls an off-loop socket on the loop again, with state as the
// gnet context: OnOpen finds it there and sets s.c. The descriptor passes
// to the enrolment; a failure comes back to the loop through failed.
//
// An enrolment holds a goroutine of PILB's and one of gnet's worker pool
// until the loop has registered it. At most maxReopens run at once per
// loop, and the rest wait their turn in order: thousands of parked
// clients that all send a request at once would otherwise cost twice as
// many goroutines, and a hundred MB of stacks, for a moment.
func (l *loop) reopen(s *sock, state any, failed func()) {
	fd := s.fd
	s.fd = -1
	s.setState(sockReopening)
	s.opens++
	j := reopenJob{s: s, state: state, failed: failed, fd: fd, gen: s.opens}
	if r := &l.reopens; r.running >= r.max {
		r.queue.push(j)
		r.waited++
		return
	}
	l.startReopen(j)
}

// maxReopens bounds the enrolments of off-loop sockets under way per loop.
const maxReopens = 64

// reopenLine is a loop's reopens: those under way, and those waiting.
type reopenLine struct {
	running int
	queue   fifo[reopenJob]
	max     int   // maxReopens (less in tests)
	waited  int64 // reopens that waited their turn, since start
}

// reopenJob is one reopen: the socket, its gnet context, its failure, the
// descriptor to enroll and the socket's opens at the reopen.
type reopenJob struct {
	s      *sock
	state  any
	failed func()
	fd     int
	gen    uint16
}

func (l *loop) startReopen(j reopenJob) {
	l.reopens.running++
	go func() {
		if err := l.reenroll(j.state, j.fd); err != nil {
			l.exec(func() {
				l.reopenEnded()
				j.failed()
			})
			return
		}
		// Registered, but OnOpen may not have run (see enroll): then
		// the socket is still reopening, from this reopen, when this runs.
		l.exec(func() {
			l.reopenEnded()
			if j.s.st == sockReopening && j.s.opens == j.gen {
				j.failed()
			}
		})
	}()
}

// reopenEnded counts a reopen over and starts the next one waiting.
func (l *loop) reopenEnded() {
	r := &l.reopens
	r.running--
	for r.running < r.max {
		j, ok := r.queue.pop()
		if !ok {
			break
		}
		l.startReopen(j)
	}
}

// closeWaitingReopens closes the descriptors of the reopens that never
// started, once the engine has stopped.
func (l *loop) closeWaitingReopens() {
	for {
		j, ok := l.reopens.queue.pop()
		if !ok {
			return
		}
		_ = unix.Close(j.fd)
		if j.s.st == sockReopening && j.s.opens == j.gen {
			j.s.st = sockClosed
		}
	}
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
	if !l.srv.enrols.enter() {
		_ = nc.Close()
		return errStopping
	}
	defer l.srv.enrols.leave()
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

// reopened records the gnet connection of a socket back on the loop and
// hands it what was held meanwhile. It returns false when that write
// failed (gnet closed c, and OnClose ran).
func (s *sock) reopened(c gnet.Conn) bool {
	s.c = c
	s.setState(sockOn)
	_, err := s.flush()
	return err == nil
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
