package hostile

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A proxy that answers 408 after three bytes: every slot is answered,
// counted, closed and dialed again, and every connection sent a prefix
// of one valid, endless head.
func TestSlowlorisReconnectsAfter408(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, got func() []byte, add func([]byte)) {
		buf := make([]byte, 64)
		for len(got()) < 3 {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			add(buf[:n])
		}
		c.Write([]byte("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
	})
	run := Slowloris{Addr: srv.addr(), Conns: 4, Interval: 5 * time.Millisecond}.Start(context.Background())
	eventually(t, "each slot dialed twice and got its 408", func() bool {
		st := run.Stats()
		return st.Dials >= 8 && st.Status408 >= 4 && st.Closed >= 4
	})
	st := run.Stop()
	if st.Open != 0 || st.Answered < st.Status408 || st.DialErrors != 0 {
		t.Errorf("after Stop: %+v", st)
	}
	head := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	for i, b := range srv.received() {
		if !strings.HasPrefix(head, string(b)) && !strings.HasPrefix(string(b), head) {
			t.Errorf("connection %d sent %q, not a prefix of the head", i, b)
		}
	}
}

// A proxy without a header timeout: the connections stay open, the
// head grows one byte per interval and never ends, and Stop closes them.
func TestSlowlorisHoldsAndStops(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, got func() []byte, add func([]byte)) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			add(buf[:n])
		}
	})
	run := Slowloris{Addr: srv.addr(), Conns: 3, Interval: time.Millisecond}.Start(context.Background())
	eventually(t, "3 connections open, 200 bytes each", func() bool {
		recv := srv.received()
		if run.Stats().Open != 3 || len(recv) != 3 {
			return false
		}
		for _, b := range recv {
			if len(b) < 200 {
				return false
			}
		}
		return true
	})
	st := run.Stop()
	if st.Open != 0 || st.Dials != 3 || st.Closed != 0 || st.Answered != 0 {
		t.Errorf("after Stop: %+v", st)
	}
	var sent int64
	for _, b := range srv.received() {
		sent += int64(len(b))
		if bytes.Contains(b, []byte("\r\n\r\n")) || !bytes.HasPrefix(b, []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pilb-bench-slowloris\r\nX-Slow: a\r\nX-Slow: a\r\n")) {
			t.Errorf("head %q: want an unfinished head of repeated X-Slow fields", b)
		}
	}
	if sent > st.BytesSent {
		t.Errorf("server got %d bytes, client counted %d", sent, st.BytesSent)
	}
}

// A proxy that refuses connections: dials fail, counted, at most one per
// interval per slot, and Stop still returns.
func TestSlowlorisDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run := Slowloris{Addr: addr, Conns: 2, Interval: 5 * time.Millisecond}.Start(context.Background())
	eventually(t, "dial errors counted", func() bool { return run.Stats().DialErrors >= 4 })
	if st := run.Stop(); st.Dials != 0 || st.Open != 0 {
		t.Errorf("after Stop: %+v", st)
	}
}

func TestIsStatus(t *testing.T) {
	for in, want := range map[string]bool{
		"HTTP/1.1 408 Request Timeout\r\n": true, "HTTP/1.0 408 x": true, "HTTP/1.1 400 Bad": false,
		"HTTP/1.1 40": false, "XTTP/1.1 408 x": false,
	} {
		if got := isStatus([]byte(in), 408); got != want {
			t.Errorf("isStatus(%q) = %v", in, got)
		}
	}
}
