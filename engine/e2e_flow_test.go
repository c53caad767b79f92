package engine

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Flow control: with a slow peer on one side, PILB holds about HighWater
// per direction, not the whole message. These tests measure the heap of the
// test process, which holds PILB, so they do not run in parallel with
// others (no t.Parallel: Go runs them before every parallel test).

const (
	flowSize      = 64 << 20 // bytes moved through the proxy
	flowHighWater = 256 << 10
	// flowMaxGrowth is far below flowSize and far above what HighWater,
	// socket read buffers and the demo backend's own 4 MiB output cap can
	// account for.
	flowMaxGrowth = 16 << 20
	slowPhase     = 300 * time.Millisecond
)

// TestE2EFlowSlowDownload downloads 64 MiB through a client that reads
// slowly at first: PILB's heap must not take the response in meanwhile.
// Then the client reads fast and checks every byte. Three paths: a
// Content-Length body, a chunked body de-chunked for an HTTP/1.0 client,
// and the backend-to-client side of an upgrade tunnel.
func TestE2EFlowSlowDownload(t *testing.T) {
	t.Run("content-length", func(t *testing.T) {
		cfg := e2eConfig()
		cfg.HighWater = flowHighWater
		s, _ := proxyToDemo(t, 1, cfg)
		base := heapInuse()
		c := dialRawSmallRcv(t, s.Addr(), 16<<10)
		c.send(fmt.Sprintf("GET /bytes/%d HTTP/1.1\r\nHost: flow\r\n\r\n", flowSize))
		m, err := readHead(c.r)
		if err != nil {
			t.Fatal(err)
		}
		expectStatus(t, m, 200)
		if m.get("Content-Length") != strconv.Itoa(flowSize) {
			t.Fatalf("Content-Length %q", m.get("Content-Length"))
		}
		slowThenFast(t, c, base)
		// The connection is still in step: the next response is next.
		m = c.roundTrip("GET", "GET /bytes/5 HTTP/1.1\r\nHost: flow\r\n\r\n")
		if string(m.body) != "ABCDE" {
			t.Fatalf("next response after 64 MiB: %q", m.body)
		}
		c.Close()
		shutdownClean(t, s)
	})

	t.Run("de-chunked for HTTP/1.0", func(t *testing.T) {
		cfg := e2eConfig()
		cfg.HighWater = flowHighWater
		s, _ := proxyToDemo(t, 1, cfg)
		base := heapInuse()
		c := dialRawSmallRcv(t, s.Addr(), 16<<10)
		c.send(fmt.Sprintf("GET /chunked/%d HTTP/1.0\r\nHost: flow\r\n\r\n", flowSize))
		m, err := readHead(c.r)
		if err != nil {
			t.Fatal(err)
		}
		expectStatus(t, m, 200)
		if m.has("Transfer-Encoding") {
			t.Fatalf("Transfer-Encoding %q to an HTTP/1.0 client", m.get("Transfer-Encoding"))
		}
		slowThenFast(t, c, base)
		c.expectEOF()
		c.Close()
		shutdownClean(t, s)
	})

	t.Run("tunnel", func(t *testing.T) {
		be := startScripted(t, func(c *bconn) {
			if _, err := c.readRequest(); err != nil {
				return
			}
			if c.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: stream\r\n\r\n") != nil {
				return
			}
			for off := int64(0); off < flowSize; off += 256 << 10 {
				if _, err := c.Write(patternWindow(off, 256<<10)); err != nil {
					return
				}
			}
			_, _ = io.Copy(io.Discard, c.br) // until the client side closes
		})
		cfg := e2eConfig()
		cfg.Backends = setOf(t, be.Addr())
		cfg.HighWater = flowHighWater
		s := startProxy(t, cfg)
		base := heapInuse()
		c := dialRawSmallRcv(t, s.Addr(), 16<<10)
		c.send("GET /stream HTTP/1.1\r\nHost: flow\r\nConnection: Upgrade\r\nUpgrade: stream\r\n\r\n")
		m, err := readHead(c.r)
		if err != nil {
			t.Fatal(err)
		}
		expectStatus(t, m, 101)
		slowThenFast(t, c, base)
		c.Close()
		shutdownClean(t, s)
	})
}

// slowThenFast reads flowSize pattern bytes from c: 64 KiB every 10ms for
// slowPhase while checking that the heap does not take what the client
// does not read, then as fast as it can, checking every byte.
func slowThenFast(t *testing.T, c *rawConn, base uint64) {
	t.Helper()
	buf := make([]byte, 1<<20)
	var off int64
	var peak uint64
	end := time.Now().Add(slowPhase)
	for i := 0; time.Now().Before(end); i++ {
		n, err := io.ReadFull(c.r, buf[:64<<10])
		if err != nil {
			t.Fatalf("slow read at %d: %v", off, err)
		}
		if err := checkPattern(buf[:n], off); err != nil {
			t.Fatal(err)
		}
		off += int64(n)
		time.Sleep(10 * time.Millisecond)
		if i%10 == 9 {
			peak = max(peak, heapInuse())
		}
	}
	peak = max(peak, heapInuse())
	growth := int64(peak) - int64(base)
	t.Logf("slow phase: read %d KiB, heap in use grew by %d KiB", off>>10, growth>>10)
	if growth > flowMaxGrowth {
		t.Errorf("heap grew by %d MiB while the client read %d KiB of %d MiB: the proxy buffers instead of pushing back",
			growth>>20, off>>10, flowSize>>20)
	}

	_ = c.SetReadDeadline(deadlineIn(20))
	for off < flowSize {
		n, err := c.r.Read(buf[:min(int64(len(buf)), flowSize-off)])
		if err != nil {
			t.Fatalf("fast read at %d of %d: %v", off, flowSize, err)
		}
		if err := checkPattern(buf[:n], off); err != nil {
			t.Fatal(err)
		}
		off += int64(n)
	}
}

// TestE2EFlowFastUpload uploads 64 MiB to a backend that reads slowly at
// first: PILB must stop reading the client instead of buffering the body.
// Then the backend reads fast and checks every byte.
func TestE2EFlowFastUpload(t *testing.T) {
	fast := make(chan struct{})
	result := make(chan string, 1)
	be := startScripted(t, func(c *bconn) {
		m, err := readHead(c.br)
		if err != nil {
			return
		}
		c.s.heads.Add(1)
		if m.get("Content-Length") != strconv.Itoa(flowSize) {
			result <- "Content-Length " + m.get("Content-Length")
			return
		}
		buf := make([]byte, 1<<20)
		var off int64
		slow := true
		for off < flowSize {
			want := int64(len(buf))
			if slow {
				select {
				case <-fast:
					slow = false
				default:
					want = 64 << 10
					time.Sleep(10 * time.Millisecond)
				}
			}
			n, err := c.br.Read(buf[:min(want, flowSize-off)])
			if err != nil {
				result <- fmt.Sprintf("read at %d: %v", off, err)
				return
			}
			if err := checkPattern(buf[:n], off); err != nil {
				result <- err.Error()
				return
			}
			off += int64(n)
		}
		result <- "ok"
		_ = c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	cfg := e2eConfig()
	cfg.Backends = setOf(t, be.Addr())
	cfg.HighWater = flowHighWater
	s := startProxy(t, cfg)
	base := heapInuse()

	c := dialRaw(t, s.Addr())
	_ = c.SetDeadline(deadlineIn(30))
	werr := make(chan error, 1)
	var written atomic.Int64 // bytes the proxy took from the client
	go func() {
		if _, err := fmt.Fprintf(c.Conn, "POST /upload HTTP/1.1\r\nHost: flow\r\nContent-Length: %d\r\n\r\n", flowSize); err != nil {
			werr <- err
			return
		}
		for off := int64(0); off < flowSize; off += 256 << 10 {
			if _, err := c.Write(patternWindow(off, 256<<10)); err != nil {
				werr <- err
				return
			}
			written.Store(off + 256<<10)
		}
		werr <- nil
	}()

	var peak uint64
	for range 6 {
		time.Sleep(slowPhase / 6)
		peak = max(peak, heapInuse())
	}
	growth := int64(peak) - int64(base)
	took := written.Load()
	t.Logf("slow phase: heap in use grew by %d KiB, the client wrote %d KiB", growth>>10, took>>10)
	if growth > flowMaxGrowth {
		t.Errorf("heap grew by %d MiB while the backend read slowly from a %d MiB upload: the proxy buffers instead of pushing back",
			growth>>20, flowSize>>20)
	}
	// Socket buffers on the way hold a few MiB; the backend read 2 MiB.
	if took > flowSize*3/4 {
		t.Errorf("the client wrote %d MiB of %d while the backend read slowly: nothing pushed back", took>>20, flowSize>>20)
	}
	close(fast)

	select {
	case r := <-result:
		if r != "ok" {
			t.Fatalf("backend: %s", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("upload did not complete")
	}
	if err := <-werr; err != nil {
		t.Fatalf("client write: %v", err)
	}
	m := c.resp("POST")
	expectStatus(t, m, 200)
	c.Close()
	shutdownClean(t, s)
}
