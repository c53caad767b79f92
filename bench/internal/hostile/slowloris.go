package hostile

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// slowlorisPrefix opens every slowloris request head; slowlorisFiller
// then repeats for as long as the connection lasts, one byte per
// interval, so that the head is always valid and never complete (no
// empty line). At one byte per 2 s it would take the filler days to
// reach any proxy's head-size limit.
const (
	slowlorisPrefix = "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: pilb-bench-slowloris\r\n"
	slowlorisFiller = "X-Slow: a\r\n"
)

// slowlorisReadBuf is how much of an answer each connection reads at a
// time: the proxy's 408 page, at most, before it closes.
const slowlorisReadBuf = 512

// Slowloris holds Conns connections to Addr, each sending a request head
// one byte every Interval and never finishing it. When the proxy closes
// one (its header timeout), the connection is dialed again, at most once
// per Interval, so a proxy that refuses at once costs a bounded dial rate.
type Slowloris struct {
	// Addr is the proxy's host:port (loopback).
	Addr string
	// Conns is how many connections are held at once.
	Conns int
	// Interval is the time between two bytes of a head.
	Interval time.Duration
}

// SlowlorisStats counts what the slowloris connections saw.
type SlowlorisStats struct {
	// Dials counts connections opened, the first of each slot and every
	// reconnection; DialErrors the dials that failed.
	Dials, DialErrors int64
	// Closed counts connections the proxy closed or reset.
	Closed int64
	// Answered counts connections on which the proxy wrote anything
	// before closing; Status408 those whose answer was a 408.
	Answered, Status408 int64
	// BytesSent is the head bytes written, all connections together.
	BytesSent int64
	// Open is how many connections are open now.
	Open int64
}

// SlowlorisRun is a running Slowloris.
type SlowlorisRun struct {
	s      Slowloris
	head   []byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// The counters of SlowlorisStats.
	dials, dialErrors atomic.Int64
	closed            atomic.Int64
	answered          atomic.Int64
	status408         atomic.Int64
	sent              atomic.Int64
	open              atomic.Int64
}

// Start starts the connections, their first bytes spread over one
// Interval so that the proxy sees a steady trickle rather than bursts.
// They run until Stop or until ctx ends.
func (s Slowloris) Start(ctx context.Context) *SlowlorisRun {
	ctx, cancel := context.WithCancel(ctx)
	host, _, _ := net.SplitHostPort(s.Addr)
	r := &SlowlorisRun{s: s, head: []byte(fmt.Sprintf(slowlorisPrefix, host)), cancel: cancel}
	for i := range s.Conns {
		r.wg.Add(1)
		go r.slot(ctx, time.Duration(i)*s.Interval/time.Duration(max(s.Conns, 1)))
	}
	return r
}

// Stats returns the counters now.
func (r *SlowlorisRun) Stats() SlowlorisStats {
	return SlowlorisStats{Dials: r.dials.Load(), DialErrors: r.dialErrors.Load(), Closed: r.closed.Load(),
		Answered: r.answered.Load(), Status408: r.status408.Load(), BytesSent: r.sent.Load(), Open: r.open.Load()}
}

// Stop closes every connection and waits for their goroutines.
func (r *SlowlorisRun) Stop() SlowlorisStats {
	r.cancel()
	r.wg.Wait()
	return r.Stats()
}

// slot keeps one connection open, dialing again when the proxy closes it.
func (r *SlowlorisRun) slot(ctx context.Context, delay time.Duration) {
	defer r.wg.Done()
	if !sleepCtx(ctx, delay) {
		return
	}
	var d net.Dialer
	for ctx.Err() == nil {
		dialed := time.Now()
		c, err := d.DialContext(ctx, "tcp", r.s.Addr)
		if err != nil {
			if ctx.Err() == nil {
				r.dialErrors.Add(1)
			}
		} else {
			r.dials.Add(1)
			r.open.Add(1)
			r.hold(ctx, c)
			r.open.Add(-1)
		}
		if !sleepCtx(ctx, time.Until(dialed.Add(r.s.Interval))) {
			return
		}
	}
}

// hold trickles the head into c until the proxy closes it or ctx ends.
func (r *SlowlorisRun) hold(ctx context.Context, c net.Conn) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		buf := make([]byte, slowlorisReadBuf)
		first := true
		for {
			n, err := c.Read(buf)
			if n > 0 && first {
				first = false
				r.answered.Add(1)
				if isStatus(buf[:n], 408) {
					r.status408.Add(1)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(r.s.Interval)
	defer tick.Stop()
	defer func() { c.Close(); <-closed }()
	for pos := 0; ; pos++ {
		if _, err := c.Write([]byte{r.byteAt(pos)}); err != nil {
			if ctx.Err() == nil {
				r.closed.Add(1)
			}
			return
		}
		r.sent.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-closed:
			r.closed.Add(1)
			return
		case <-tick.C:
		}
	}
}

// byteAt is byte pos of the endless head.
func (r *SlowlorisRun) byteAt(pos int) byte {
	if pos < len(r.head) {
		return r.head[pos]
	}
	return slowlorisFiller[(pos-len(r.head))%len(slowlorisFiller)]
}

// isStatus reports whether resp starts a response of status code.
func isStatus(resp []byte, code int) bool {
	// "HTTP/1.1 408 ..."
	if len(resp) < 12 || !bytes.HasPrefix(resp, []byte("HTTP/1.")) {
		return false
	}
	got := int(resp[9]-'0')*100 + int(resp[10]-'0')*10 + int(resp[11]-'0')
	return got == code
}

// sleepCtx sleeps for d or until ctx ends; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
