package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tunnelStates describes, loop by loop, every client of s in a tunnel
// and its backend connection: where each socket is, what PILB holds for
// it, and what waits in the kernel's queues. A chaos tunnel that times
// out adds it to its failure, taken at that moment, so that a stall says
// which side it is waiting on.
func tunnelStates(s *Server) string {
	var b strings.Builder
	for i, l := range loopsOf(s) {
		done := make(chan struct{})
		err := l.el.Execute(context.Background(), runnable(func() {
			defer close(done)
			for _, cl := range l.clients {
				if cl.phase != cpTunnel {
					continue
				}
				fmt.Fprintf(&b, "\n\tloop %d tunnel: client %s", i, tunnelSockState(&cl.sock))
				if be := cl.be; be != nil {
					fmt.Fprintf(&b, "; backend %v %s, write side shut %v", be.phase, tunnelSockState(&be.sock), be.sock.wrShut)
				}
			}
		}))
		if err != nil {
			fmt.Fprintf(&b, "\n\tloop %d: %v", i, err)
			continue
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			fmt.Fprintf(&b, "\n\tloop %d: no answer in 5 s", i)
		}
	}
	return b.String()
}

// tunnelSockState describes s for tunnelStates.
func tunnelSockState(s *sock) string {
	fd := s.fd
	desc := fmt.Sprintf("%v (eof %v, held %d, watched %v", s.st, s.eof, s.heldLen(), s.watched)
	if s.st == sockOn {
		fd = s.c.Fd()
		desc += fmt.Sprintf(", gnet in %d out %d", s.c.InboundBuffered(), s.c.OutboundBuffered())
	}
	if fd >= 0 {
		inq, _ := unix.IoctlGetInt(fd, unix.SIOCINQ)
		outq, _ := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
		desc += fmt.Sprintf(", kernel in %d out %d", inq, outq)
	}
	return desc + ")"
}
