package engine

import (
	"golang.org/x/sys/unix"
)

// Output PILB holds for a socket.
//
// What a socket's kernel buffer does not take of a write is queued here, in
// fixed-size chunks from the loop's own free list, and written from there
// when the socket is writable (writable.go) or, off the loop, by the drain
// poll (pause.go). gnet's outbound buffer is not used: it copies each
// remainder into pieces from size-classed sync.Pools, which every garbage
// collection empties, so that a slow reader that keeps a few hundred KiB
// waiting made the process grow by 2-3 MB over a long transfer (the pieces
// went to the collector and were allocated again, each round). Chunks that
// come back to the free list stay there, up to maxFreeChunks per loop, and
// are used again: a slow transfer costs its high-water mark once.

const (
	// chunkSize is the size of one chunk of queued output.
	chunkSize = 16 << 10
	// maxFreeChunks bounds the free chunks a loop keeps (4 MiB); past it
	// a chunk that is let go of goes to the garbage collector.
	maxFreeChunks = 256
	// maxFreeQueues bounds the idle outq structures a loop keeps.
	maxFreeQueues = 256
	// maxIovecs is the most chunks one writev hands the kernel
	// (IOV_MAX is 1024; 64 chunks are 1 MiB).
	maxIovecs = 64
)

// outq is the output queued for one socket, oldest first. A socket has
// one only while it has output queued (sock.q).
type outq struct {
	chunks [][]byte // chunks[head][off:], then the others whole; the last one's len is how far it is filled
	head   int      // chunks before head are written and given back
	off    int      // bytes of chunks[head] already written
	n      int      // bytes queued
	owner  watchItem
	fd     int    // the descriptor registered with the loop's write watch; -1 when not registered
	slot   int32  // its slot in the write watch, while registered
	epoch  uint64 // the write watch's task that last wrote it
	w      *outMem
}

// outMem is a loop's store of chunks and queues, and its write watch.
type outMem struct {
	free   [][]byte
	queues []*outq
	ww     *writeWatch // nil when the loop could not set one up: the drain poll flushes instead
	iov    [][]byte    // scratch for writev
}

// newQueue returns an empty queue for owner.
func (m *outMem) newQueue(owner watchItem) *outq {
	var q *outq
	if k := len(m.queues); k > 0 {
		q = m.queues[k-1]
		m.queues[k-1] = nil
		m.queues = m.queues[:k-1]
	} else {
		q = &outq{w: m}
	}
	q.owner, q.fd, q.slot = owner, -1, -1
	return q
}

func (m *outMem) chunk() []byte {
	if k := len(m.free); k > 0 {
		c := m.free[k-1]
		m.free[k-1] = nil
		m.free = m.free[:k-1]
		return c
	}
	return make([]byte, 0, chunkSize)
}

func (m *outMem) putChunk(c []byte) {
	if len(m.free) < maxFreeChunks {
		m.free = append(m.free, c[:0])
	}
}

// append queues a copy of p.
func (q *outq) append(p []byte) {
	q.n += len(p)
	for len(p) > 0 {
		k := len(q.chunks)
		if k == q.head || len(q.chunks[k-1]) == chunkSize {
			if k == cap(q.chunks) && q.head > 0 { // slide down rather than grow
				k = copy(q.chunks, q.chunks[q.head:])
				clear(q.chunks[k:])
				q.chunks, q.head = q.chunks[:k], 0
			}
			q.chunks = append(q.chunks, q.w.chunk())
			k++
		}
		last := q.chunks[k-1]
		m := copy(last[len(last):chunkSize], p)
		q.chunks[k-1] = last[:len(last)+m]
		p = p[m:]
	}
}

// consume drops the first n queued bytes, returning emptied chunks to the
// free list.
func (q *outq) consume(n int) {
	q.n -= n
	for n > 0 {
		c := q.chunks[q.head]
		left := len(c) - q.off
		if n < left {
			q.off += n
			return
		}
		n -= left
		q.w.putChunk(c)
		q.chunks[q.head] = nil
		q.head++
		q.off = 0
	}
	if q.head == len(q.chunks) {
		q.chunks, q.head = q.chunks[:0], 0
	}
}

// writeTo writes what the kernel takes of the queue to fd; it returns how
// many bytes left the queue.
func (q *outq) writeTo(fd int) (int, error) {
	total := 0
	for q.n > 0 {
		iov := q.w.iov[:0]
		want := 0
		for i, c := range q.chunks[q.head:] {
			if i == maxIovecs {
				break
			}
			if i == 0 {
				c = c[q.off:]
			}
			iov = append(iov, c)
			want += len(c)
		}
		k, err := unix.Writev(fd, iov)
		clear(iov)
		q.w.iov = iov[:0]
		if err == unix.EINTR {
			continue
		}
		if k > 0 {
			q.consume(k)
			total += k
		}
		if err == unix.EAGAIN {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if k < want {
			return total, nil // the kernel took what it had room for
		}
	}
	return total, nil
}

// linear appends the queued bytes to dst in one piece.
func (q *outq) linear(dst []byte) []byte {
	for i, c := range q.chunks[q.head:] {
		if i == 0 {
			c = c[q.off:]
		}
		dst = append(dst, c...)
	}
	return dst
}

// release gives the queue's chunks and the queue itself back to the loop;
// the queue must not be registered.
func (q *outq) release() {
	m := q.w
	for i, c := range q.chunks[q.head:] {
		m.putChunk(c)
		q.chunks[q.head+i] = nil
	}
	q.chunks, q.head = q.chunks[:0], 0
	q.off, q.n, q.owner = 0, 0, watchItem{}
	if len(m.queues) < maxFreeQueues && cap(q.chunks) <= maxIovecs {
		m.queues = append(m.queues, q)
	}
}
