package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestE2EMixedLoad runs concurrent clients that mix keep-alive GETs,
// pipelined batches, chunked and Content-Length uploads to /echo, chunked
// downloads and HEADs, over three backends and two loops. Every response
// must match its request exactly: echo bodies carry a token unique to
// their request, pattern bodies are checked byte for byte.
//
// It keeps both CPUs busy for seconds under -race, so it does not run in
// parallel with the other tests, whose goroutines it would starve.
func TestE2EMixedLoad(t *testing.T) {
	const (
		clients   = 32
		perClient = 50
		maxSize   = 256 << 10
	)
	s, demos := proxyToDemo(t, 3, e2eConfig())

	// req is one request and what its response must be.
	type req struct {
		method string
		wire   []byte
		check  func(m *msg) error
	}
	patternOf := func(n int) func(*msg) error {
		return func(m *msg) error {
			if m.status() != 200 || len(m.body) != n {
				return fmt.Errorf("%q with %d body bytes, want 200 with %d", m.line, len(m.body), n)
			}
			return checkPattern(m.body, 0)
		}
	}
	echoOf := func(want []byte) func(*msg) error {
		return func(m *msg) error {
			if m.status() != 200 || !bytes.Equal(m.body, want) {
				return fmt.Errorf("%q with a %d-byte body, want the %d-byte echo %.30q", m.line, len(m.body), len(want), want)
			}
			return nil
		}
	}

	var sent atomic.Int64
	deadline := time.Now().Add(40 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 99))
			newReq := func(seq int) req {
				token := fmt.Sprintf("client-%d-req-%d-", id, seq)
				switch k := rng.IntN(6); k {
				case 0, 1:
					n := rng.IntN(maxSize + 1)
					return req{"GET", fmt.Appendf(nil, "GET /bytes/%d HTTP/1.1\r\nHost: mixed\r\n\r\n", n), patternOf(n)}
				case 2:
					body := append([]byte(token), randomBody(uint64(id*1000+seq), rng.IntN(maxSize))...)
					enc := chunkedEncode(rng, body, 1+rng.IntN(32<<10), "")
					return req{"POST", append([]byte("POST /echo HTTP/1.1\r\nHost: mixed\r\nTransfer-Encoding: chunked\r\n\r\n"), enc...), echoOf(body)}
				case 3:
					body := []byte(token + strings.Repeat("x", rng.IntN(4096)))
					return req{"PUT", fmt.Appendf(nil, "PUT /echo HTTP/1.1\r\nHost: mixed\r\nContent-Length: %d\r\n\r\n%s", len(body), body), echoOf(body)}
				case 4:
					n := 1 + rng.IntN(maxSize)
					return req{"GET", fmt.Appendf(nil, "GET /chunked/%d HTTP/1.1\r\nHost: mixed\r\n\r\n", n), func(m *msg) error {
						if err := patternOf(n)(m); err != nil {
							return err
						}
						if !m.chunked || m.trailerValue("X-Trailer") == "" {
							return fmt.Errorf("chunked %v, trailer %q", m.chunked, m.trailer)
						}
						return nil
					}}
				default:
					n := 1 + rng.IntN(maxSize)
					return req{"HEAD", fmt.Appendf(nil, "HEAD /bytes/%d HTTP/1.1\r\nHost: mixed\r\n\r\n", n), func(m *msg) error {
						if m.status() != 200 || m.get("Content-Length") != fmt.Sprint(n) {
							return fmt.Errorf("HEAD: %q Content-Length %q, want %d", m.line, m.get("Content-Length"), n)
						}
						return nil
					}}
				}
			}

			var c *rawConn
			seq := 0
			for seq < perClient {
				if c == nil || rng.IntN(10) == 0 {
					if c != nil {
						c.Close()
					}
					nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
					if err != nil {
						errs <- fmt.Errorf("client %d: %v", id, err)
						return
					}
					_ = nc.SetDeadline(deadline)
					c = &rawConn{t: t, Conn: nc, r: bufio.NewReader(nc)}
				}
				// A batch of 1 to 4 requests written at once: pipelined
				// when more than one.
				batch := make([]req, 0, 4)
				for n := 1 + rng.IntN(4); n > 0 && seq < perClient; n-- {
					batch = append(batch, newReq(seq))
					seq++
				}
				var wire []byte
				for _, r := range batch {
					wire = append(wire, r.wire...)
				}
				werr := make(chan error, 1)
				go func() {
					_, err := c.Write(wire)
					werr <- err
				}()
				for i, r := range batch {
					m, err := readResponse(c.r, r.method)
					if err == nil {
						err = r.check(m)
					}
					if err != nil {
						errs <- fmt.Errorf("client %d, request %d (%s): %v", id, seq-len(batch)+i, bytes.SplitN(r.wire, []byte("\r\n"), 2)[0], err)
						c.Close()
						return
					}
					sent.Add(1)
				}
				if err := <-werr; err != nil {
					errs <- fmt.Errorf("client %d: write: %v", id, err)
					return
				}
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 5 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d clients failed", n, clients)
	}
	var answered uint64
	for _, d := range demos {
		answered += d.Requests()
	}
	if answered != uint64(sent.Load()) || sent.Load() != clients*perClient {
		t.Fatalf("%d requests answered by backends, %d responses checked, want %d", answered, sent.Load(), clients*perClient)
	}
	shutdownClean(t, s)
}
