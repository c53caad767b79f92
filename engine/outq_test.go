package engine

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// pattern returns n bytes that differ from one offset to the next, so that
// a byte lost, doubled or moved shows.
func pattern(off, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte((off + i) * 131 >> 3)
	}
	return p
}

// TestOutqKeepsOrder appends random pieces to a queue and consumes random
// amounts, against a plain byte slice doing the same.
func TestOutqKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var m outMem
	q := m.newQueue(watchItem{})
	var want []byte
	in := 0
	for step := 0; step < 5000; step++ {
		if rng.IntN(2) == 0 {
			n := rng.IntN(3 * chunkSize)
			p := pattern(in, n)
			in += n
			q.append(p)
			want = append(want, p...)
		} else if q.n > 0 {
			n := 1 + rng.IntN(q.n)
			got := q.linear(nil)[:n]
			if !bytes.Equal(got, want[:n]) {
				t.Fatalf("step %d: the queue's first %d bytes differ", step, n)
			}
			q.consume(n)
			want = want[n:]
		}
		if q.n != len(want) {
			t.Fatalf("step %d: queue has %d bytes, want %d", step, q.n, len(want))
		}
		if len(q.chunks)-q.head > (q.n+q.off)/chunkSize+2 {
			t.Fatalf("step %d: %d chunks in use for %d bytes", step, len(q.chunks)-q.head, q.n)
		}
	}
	if !bytes.Equal(q.linear(nil), want) {
		t.Fatal("the queue's bytes differ at the end")
	}
	q.release()
	if len(m.free) == 0 || len(m.free) > maxFreeChunks {
		t.Fatalf("%d free chunks after release", len(m.free))
	}
	for _, c := range m.free {
		if len(c) != 0 || cap(c) != chunkSize {
			t.Fatalf("a free chunk has len %d cap %d", len(c), cap(c))
		}
	}
}

// TestOutqFreeListIsBounded: chunks past maxFreeChunks go to the garbage
// collector, and released queues are used again.
func TestOutqFreeListIsBounded(t *testing.T) {
	var m outMem
	q := m.newQueue(watchItem{})
	q.append(make([]byte, (maxFreeChunks+10)*chunkSize))
	q.release()
	if len(m.free) != maxFreeChunks {
		t.Fatalf("%d free chunks, want %d", len(m.free), maxFreeChunks)
	}
	if q2 := m.newQueue(watchItem{}); q2 == q {
		t.Fatal("a queue that had grown past maxIovecs chunks was kept")
	}
	small := m.newQueue(watchItem{})
	small.append(make([]byte, 3*chunkSize))
	small.release()
	if q3 := m.newQueue(watchItem{}); q3 != small || q3.n != 0 || len(q3.chunks) != 0 || q3.fd != -1 {
		t.Fatalf("a released queue was not reused empty: %+v", q3)
	}
}

// TestOutqWriteToSocket writes a queue larger than a socket takes through
// a socketpair, reading the other end between writes, and checks every
// byte arrives once and in order.
func TestOutqWriteToSocket(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var m outMem
	q := m.newQueue(watchItem{})
	const total = 4 << 20
	q.append(pattern(0, total))
	var got []byte
	buf := make([]byte, 64<<10)
	for rounds := 0; q.n > 0 || len(got) < total; rounds++ {
		if rounds > 100000 {
			t.Fatalf("stuck: %d bytes read, %d queued", len(got), q.n)
		}
		if _, err := q.writeTo(fds[0]); err != nil {
			t.Fatal(err)
		}
		n, err := unix.Read(fds[1], buf)
		if err != nil && err != unix.EAGAIN {
			t.Fatal(err)
		}
		if n > 0 {
			got = append(got, buf[:n]...)
		}
	}
	if !bytes.Equal(got, pattern(0, total)) {
		t.Fatal("the bytes read differ from the bytes queued")
	}
	q.release()
}
