package engine

import (
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// TestGarbageNeverBreaksTheProxy sends mutated requests (bytes flipped,
// inserted, cut; random splits across writes; abrupt closes) and checks
// after each batch that a well-formed request on a new connection still
// gets the right answer: bad input gets an error status or a close, never
// a crash, a hang or a mixed-up response for somebody else.
func TestGarbageNeverBreaksTheProxy(t *testing.T) {
	t.Parallel()
	s, _ := proxyToDemo(t, 2, e2eConfig())
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"GET /chunked/100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"HEAD /bytes/10 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "\r\n :;,\t\x00\x7f0123456789abcdefABCDEFGHTP/.-chunkedContent-LengthTransfer-Encoding"
	for batch := range 30 {
		for range 10 {
			msg := []byte(seeds[rng.IntN(len(seeds))])
			for range 1 + rng.IntN(4) {
				i := rng.IntN(len(msg) + 1)
				switch rng.IntN(3) {
				case 0: // insert
					msg = append(msg[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, msg[i:]...)...)
				case 1: // replace
					if i < len(msg) {
						msg[i] = alphabet[rng.IntN(len(alphabet))]
					}
				case 2: // cut
					msg = msg[:i]
				}
			}
			if rng.IntN(2) == 0 { // pipeline a second request behind it
				msg = append(msg, seeds[rng.IntN(len(seeds))]...)
			}
			c, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for len(msg) > 0 {
				n := 1 + rng.IntN(len(msg))
				if _, err := c.Write(msg[:n]); err != nil {
					break
				}
				msg = msg[n:]
			}
			if rng.IntN(3) > 0 {
				_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				_, _ = io.Copy(io.Discard, c)
			}
			c.Close()
		}
		rc := dialRaw(t, s.Addr())
		m := rc.roundTrip("POST", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\nbatch-"+string(rune('a'+batch%26)))
		expectStatus(t, m, 200)
		if want := "batch-" + string(rune('a'+batch%26)); string(m.body) != want {
			t.Fatalf("batch %d: body %q, want %q", batch, m.body, want)
		}
		rc.Close()
	}
	shutdownClean(t, s)
}
