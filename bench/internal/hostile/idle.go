package hostile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// idleReplyTimeout bounds the wait for the response on each idle
// connection: generous for a proxy answering thousands at once on one
// core, finite so that a stuck proxy cannot hold the run.
const idleReplyTimeout = 30 * time.Second

// IdleSet is a set of keep-alive connections that each carried one
// request and now sit idle.
type IdleSet struct {
	conns []net.Conn
	// Failed counts the connections that could not be opened or got no
	// 200; Err is the first such failure.
	Failed int
	Err    error
}

// OpenIdle opens n connections to addr, at most parallel at a time, each
// sending one keep-alive GET path and reading its response whole, and
// keeps those that got a 200 open. It returns when every connection is
// either idle or failed, or ctx ends.
func OpenIdle(ctx context.Context, addr, path string, n, parallel int) *IdleSet {
	s := &IdleSet{}
	var mu sync.Mutex
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			mu.Lock()
			s.Failed++
			s.Err = cmpErr(s.Err, ctx.Err())
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := oneRequest(ctx, addr, path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Failed++
				s.Err = cmpErr(s.Err, err)
				return
			}
			s.conns = append(s.conns, c)
		}()
	}
	wg.Wait()
	return s
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// oneRequest dials addr, sends GET path and reads the whole response;
// it returns the connection, idle, when the response was a 200 with no
// bytes after it.
func oneRequest(ctx context.Context, addr, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	_ = c.SetDeadline(time.Now().Add(idleReplyTimeout))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
	case resp.StatusCode != http.StatusOK:
		err = fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	case resp.Close:
		err = errors.New("hostile: the proxy closes the connection after the response (Connection: close)")
	case br.Buffered() > 0:
		err = fmt.Errorf("hostile: %d bytes after the response", br.Buffered())
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// Len is how many connections got their response and were kept.
func (s *IdleSet) Len() int { return len(s.conns) }

// StillOpen counts the kept connections the proxy has not closed: a peek
// that finds neither data nor end of stream. It does not block.
func (s *IdleSet) StillOpen() int {
	n := 0
	buf := make([]byte, 1)
	for _, c := range s.conns {
		if open(c, buf) {
			n++
		}
	}
	return n
}

// open peeks at c without blocking: EAGAIN means open and silent; EOF,
// an error or unexpected bytes mean the proxy is done with it.
func open(c net.Conn, buf []byte) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	_ = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN)
		return true
	})
	return alive
}

// Close closes every connection.
func (s *IdleSet) Close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}
