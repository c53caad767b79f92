// Command rcvbuf-stall reproduces, with no proxy involved, the Linux TCP
// stall that made the chaos test's tunnels time out now and then: a
// megabyte stream into a receiver whose SO_RCVBUF is 8 KiB can stop for
// tens of seconds. The receiver's window settles just below the sender's
// segment size, so the sender moves only on its zero-window probes
// (ss -ti shows timer:(persist) and snd_wnd < mss on the sender).
//
// It runs the chaos tunnel's shape over loopback: a client trickles a
// random 0-3 MiB (writes of 1 to -wmax bytes, a 1 ms pause before one in
// four), optionally ends its output, and reads the whole echo back from a
// server that reads -split bytes at a time with -pause between reads. A
// tunnel slower than -slow is printed with what ss says of both ends.
//
//	go run ./bench/cmd/rcvbuf-stall -pairs 1000 -par 48 -split 54610 -pause 2ms
//	go run ./bench/cmd/rcvbuf-stall -pairs 1000 -par 48 -split 54610 -pause 2ms -grow 262144
//
// Results: bench/reports/2026-11-30-rcvbuf-stall.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		pairs    = flag.Int("pairs", 1000, "tunnels to run")
		par      = flag.Int("par", 48, "tunnels at once")
		rcvbuf   = flag.Int("rcvbuf", 8<<10, "the server's SO_RCVBUF, set on its listener (0: the system's default)")
		grow     = flag.Int("grow", 0, "SO_RCVBUF the server sets on each connection once accepted (0: none)")
		half     = flag.Bool("half", true, "the client ends its output (shutdown(SHUT_WR)) after sending")
		split    = flag.Int("split", 1024, "the server reads this many bytes at a time")
		pause    = flag.Duration("pause", 0, "the server's pause between reads")
		maxSize  = flag.Int("size", 3<<20, "a tunnel carries up to this many bytes")
		wmax     = flag.Int("wmax", 3000, "the client's largest write")
		cc       = flag.String("cc", "", "congestion control for both ends (TCP_CONGESTION; empty: the system's)")
		slow     = flag.Duration("slow", 5*time.Second, "report a tunnel slower than this")
		deadline = flag.Duration("deadline", 20*time.Second, "give up on a tunnel after this")
	)
	flag.Parse()
	if *pairs < 1 || *par < 1 || *split < 1 || *wmax < 1 || *maxSize < 1 {
		fmt.Fprintln(os.Stderr, "rcvbuf-stall: -pairs, -par, -split, -wmax and -size must be positive")
		os.Exit(2)
	}
	control := func(rcv int) func(string, string, syscall.RawConn) error {
		return func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if rcv > 0 {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcv)
				}
				if serr == nil && *cc != "" {
					serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, *cc)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	lc := net.ListenConfig{Control: control(*rcvbuf)}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serve(ln, *grow, *split, *pause)

	var stalled atomic.Int64
	sem := make(chan struct{}, *par)
	var wg sync.WaitGroup
	start := time.Now()
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: control(0)}
	for i := range *pairs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			size := rng.IntN(*maxSize)
			wrng := rand.New(rand.NewPCG(rng.Uint64(), 1))
			c, err := dialer.Dial("tcp", ln.Addr().String())
			if err != nil {
				log.Fatal(err)
			}
			tc := c.(*net.TCPConn)
			defer tc.Close()
			t0 := time.Now()
			go func() {
				data := make([]byte, size)
				for off := 0; off < size; {
					n := min(size-off, 1+wrng.IntN(*wmax))
					if _, err := tc.Write(data[off : off+n]); err != nil {
						return
					}
					off += n
					if wrng.IntN(4) == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				if *half {
					_ = tc.CloseWrite()
				}
			}()
			_ = tc.SetReadDeadline(time.Now().Add(*deadline))
			got, err := io.ReadFull(tc, make([]byte, size))
			if took := time.Since(t0); err != nil || took > *slow {
				stalled.Add(1)
				port := tc.LocalAddr().(*net.TCPAddr).Port
				filter := fmt.Sprintf("( sport = :%d or dport = :%d )", port, port)
				out, _ := exec.Command("ss", "-tinmoeHO", "state", "established", "state", "fin-wait-1", filter).CombinedOutput()
				fmt.Printf("tunnel %d: %d of %d bytes echoed in %v (%v)\n%s", i, got, size, took.Round(time.Millisecond), err, out)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%d tunnels, %d slower than %v, in %v (rcvbuf %d, grow %d, half %v, split %d, pause %v, cc %q)\n",
		*pairs, stalled.Load(), *slow, time.Since(start).Round(time.Millisecond), *rcvbuf, *grow, *half, *split, *pause, *cc)
}

// serve echoes every connection of ln, reading split bytes at a time.
func serve(ln net.Listener, grow, split int, pause time.Duration) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if grow > 0 {
				if err := c.(*net.TCPConn).SetReadBuffer(grow); err != nil {
					log.Fatal(err)
				}
			}
			buf := make([]byte, split)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
				time.Sleep(pause)
			}
		}()
	}
}
