package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tunnelStates describes, loop by loop, every client of s in a tunnel
// and its backend connection: where each socket is, what PILB holds for
// it, what waits in the kernel's queues, and what TCP says of each
// connection (tcpStates). A chaos tunnel that times out adds it to its
// failure, taken at that moment, so that a stall says which side it is
// waiting on.
func tunnelStates(s *Server) string {
	var b strings.Builder
	var filters []string // ss filters for every tunnel connection
	for i, l := range loopsOf(s) {
		// The loop writes its part apart, kept only once it has answered,
		// so that a loop answering after the 5 s wait touches nothing of
		// the caller's.
		var part strings.Builder
		var fl []string
		done := make(chan struct{})
		err := l.el.Execute(context.Background(), runnable(func() {
			defer close(done)
			for _, cl := range l.clients {
				if cl.phase != cpTunnel {
					continue
				}
				fmt.Fprintf(&part, "\n\tloop %d tunnel: client %s", i, tunnelSockState(&cl.sock))
				fl = appendConnFilter(fl, cl.sock.fdNow())
				if be := cl.be; be != nil {
					fmt.Fprintf(&part, "; backend %v %s, write side shut %v", be.phase, tunnelSockState(&be.sock), be.sock.wrShut)
					fl = appendConnFilter(fl, be.sock.fdNow())
				}
			}
		}))
		if err != nil {
			fmt.Fprintf(&b, "\n\tloop %d: %v", i, err)
			continue
		}
		select {
		case <-done:
			b.WriteString(part.String())
			filters = append(filters, fl...)
		case <-time.After(5 * time.Second):
			fmt.Fprintf(&b, "\n\tloop %d: no answer in 5 s", i)
		}
	}
	return b.String() + tcpStates(filters)
}

// tcpStates says what the kernel's TCP says of the connections filters
// select (ss -tinmoe: timers, windows, retransmissions, socket memory),
// twice a second apart, and gives the counters of segments the kernel
// dropped, so that a stall in TCP itself shows as such.
func tcpStates(filters []string) string {
	if len(filters) == 0 {
		return ""
	}
	filter := "( " + strings.Join(filters, " or ") + " )"
	var b strings.Builder
	for i := range 2 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		out, err := exec.Command("ss", "-tinmoeHO", "state", "all", filter).CombinedOutput()
		fmt.Fprintf(&b, "\n\tss (sample %d, err %v):", i+1, err)
		for line := range strings.Lines(string(out)) {
			fmt.Fprintf(&b, "\n\t%s", strings.Join(strings.Fields(line), " "))
		}
	}
	out, err := exec.Command("nstat", "-asz", "TcpExtTCPRcvQDrop", "TcpExtTCPZeroWindowDrop", "TcpExtTCPBacklogDrop",
		"TcpExtTCPWinProbe", "TcpExtTCPOFODrop", "TcpRetransSegs", "TcpExtTCPTimeouts").CombinedOutput()
	fmt.Fprintf(&b, "\n\tnstat (err %v):", err)
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 2 {
			fmt.Fprintf(&b, " %s %s", f[0], f[1])
		}
	}
	return b.String()
}

// appendConnFilter appends to filters an ss filter for both ends of fd's
// connection, if fd has one.
func appendConnFilter(filters []string, fd int) []string {
	lp, rp, err := connPorts(fd)
	if err != nil {
		return filters
	}
	return append(filters, fmt.Sprintf("( sport = :%d and dport = :%d ) or ( sport = :%d and dport = :%d )", lp, rp, rp, lp))
}

// connPorts gives the local and remote ports of fd's IPv4 connection.
func connPorts(fd int) (local, remote int, err error) {
	la, err1 := unix.Getsockname(fd)
	ra, err2 := unix.Getpeername(fd)
	l4, ok1 := la.(*unix.SockaddrInet4)
	r4, ok2 := ra.(*unix.SockaddrInet4)
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("addresses unknown (%v, %v)", err1, err2)
	}
	return l4.Port, r4.Port, nil
}

// tunnelSockState describes s for tunnelStates.
func tunnelSockState(s *sock) string {
	fd := s.fdNow()
	desc := fmt.Sprintf("%v (eof %v, held %d, watched %v", s.st, s.eof, s.heldLen(), s.watched)
	if s.st == sockOn {
		desc += fmt.Sprintf(", gnet in %d out %d", s.c.InboundBuffered(), s.c.OutboundBuffered())
	}
	if fd >= 0 {
		inq, _ := unix.IoctlGetInt(fd, unix.SIOCINQ)
		outq, _ := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
		desc += fmt.Sprintf(", fd %d, kernel in %d out %d, %s, polled by %s", fd, inq, outq, sockPorts(fd), epollsOf(fd))
	}
	return desc + ")"
}

// sockPorts gives fd's local and remote ports, and what the kernel says of
// the connection both ways (/proc/net/tcp: state, send and receive
// queues of each end, in hex), so that the peer's queues show too.
func sockPorts(fd int) string {
	lport, rport, err := connPorts(fd)
	if err != nil {
		return err.Error()
	}
	desc := fmt.Sprintf("ports %d->%d", lport, rport)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return desc
	}
	lp, rp := fmt.Sprintf(":%04X ", lport), fmt.Sprintf(":%04X ", rport)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		loc, rem := f[1]+" ", f[2]+" "
		if strings.HasSuffix(loc, lp) && strings.HasSuffix(rem, rp) || strings.HasSuffix(loc, rp) && strings.HasSuffix(rem, lp) {
			desc += fmt.Sprintf(" [%s->%s st %s tx:rx %s]", f[1], f[2], f[3], f[4])
		}
	}
	return desc
}

// epollsOf lists the epoll descriptors of this process that watch fd,
// with the events each watches (/proc/self/fdinfo).
func epollsOf(fd int) string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var found []string
	want := fmt.Sprintf("tfd: %8d ", fd)
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if target != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, want) {
				found = append(found, "epoll "+e.Name()+": "+strings.Join(strings.Fields(line)[2:4], " "))
			}
		}
	}
	if len(found) == 0 {
		return "no epoll"
	}
	return strings.Join(found, ", ")
}
