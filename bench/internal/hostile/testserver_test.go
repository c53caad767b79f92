package hostile

import (
	"net"
	"sync"
	"testing"
	"time"
)

// eventually polls cond every 10 ms for up to 20 s: generous for a
// loaded 2-core machine, and no test waits longer than it must.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawServer accepts connections on loopback and hands each to serve;
// it records what every connection sent.
type rawServer struct {
	ln   net.Listener
	mu   sync.Mutex
	recv [][]byte
	wg   sync.WaitGroup
}

func newRawServer(t *testing.T, serve func(c net.Conn, got func() []byte, add func([]byte))) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			i := len(s.recv)
			s.recv = append(s.recv, nil)
			s.mu.Unlock()
			got := func() []byte { s.mu.Lock(); defer s.mu.Unlock(); return append([]byte(nil), s.recv[i]...) }
			add := func(b []byte) { s.mu.Lock(); s.recv[i] = append(s.recv[i], b...); s.mu.Unlock() }
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); serve(c, got, add) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

func (s *rawServer) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.recv))
	for i, b := range s.recv {
		out[i] = append([]byte(nil), b...)
	}
	return out
}
