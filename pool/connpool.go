package pool

import "time"

// initialIdleCap bounds the first allocation of a backend's idle stack, so a
// large maxIdlePerBackend does not reserve memory for backends that never
// reach it; the stack grows by append up to maxIdle and then stays.
const initialIdleCap = 16

// ConnPool keeps idle keep-alive connections of one event loop, per backend.
// C is the caller's connection handle (gnet.Conn in the engine, net.Conn in
// tests); the pool never reads, writes or closes it. Whenever the pool gives
// a conn up (Expired, Drop, a false Put) closing it is the caller's job.
//
// A ConnPool is not safe for concurrent use: the event loop that owns it is
// its only user, which is why it needs no lock. Connections never move
// between loops, because a gnet conn is bound to the loop that registered it.
//
// Each backend's idle conns form a stack: Get returns the most recently Put
// (LIFO). The warmest connection is the one least likely to have been closed
// by the backend's own keep-alive timeout, has the largest TCP congestion
// window and the hottest caches on both ends, and leaves the coldest at the
// bottom to age out through Expired when load drops (Go's http.Transport
// and Pingora's pool are LIFO for the same reasons).
type ConnPool[C comparable] struct {
	maxIdle     int
	idleTimeout int64 // nanoseconds; <= 0: never expire

	lists map[*Backend]*idleList[C]
	gone  []goneConn[C] // Expired's scratch, reused so a tick allocates nothing
}

type goneConn[C comparable] struct {
	b    *Backend
	conn C
}

type idleEntry[C comparable] struct {
	conn      C
	idleSince int64 // Unix nanoseconds of the Put
}

// idleList is one backend's stack, oldest first. Expired scans all of it
// rather than stopping at the first fresh entry, so a caller clock that steps
// back between Puts cannot hide an expired conn above a fresh one.
type idleList[C comparable] struct {
	entries []idleEntry[C]
	gets    uint64 // Get calls for the backend, found a conn or not
	seen    uint64 // gets as Expired last saw it
	used    int64  // when Expired first saw gets move since the one before (Unix nanoseconds)
}

// NewConnPool returns an empty pool keeping at most maxIdlePerBackend idle
// conns per backend, each for at most idleTimeout. maxIdlePerBackend zero or
// negative keeps none (every Put returns false: no keep-alive reuse);
// idleTimeout zero or negative never expires a conn. Set idleTimeout below
// the backends' own keep-alive timeout, so the pool closes first and a
// request is seldom sent on a conn the backend is closing.
func NewConnPool[C comparable](maxIdlePerBackend int, idleTimeout time.Duration) *ConnPool[C] {
	return &ConnPool[C]{
		maxIdle:     max(maxIdlePerBackend, 0),
		idleTimeout: int64(idleTimeout),
		lists:       make(map[*Backend]*idleList[C]),
	}
}

// Get pops the most recently Put idle conn of b; ok is false when b has none
// and the caller dials one. Either way the request's b.Acquire comes first.
// Get checks no timeout; Expired does that on a ticker, so a conn slightly
// past idleTimeout can still come out.
func (p *ConnPool[C]) Get(b *Backend) (c C, ok bool) {
	l := p.lists[b]
	if l == nil {
		return c, false
	}
	l.gets++
	if len(l.entries) == 0 {
		return c, false
	}
	last := len(l.entries) - 1
	c = l.entries[last].conn
	l.entries[last] = idleEntry[C]{} // drop the reference for the GC
	l.entries = l.entries[:last]
	return c, true
}

// Put stores c as an idle conn of b since now (Unix nanoseconds). It returns
// false, storing nothing, when b already has maxIdlePerBackend idle conns:
// the caller closes c. Putting a conn that is already idle is a caller bug
// the pool does not detect. Pre-dialed conns are Put like any other (see
// Want).
func (p *ConnPool[C]) Put(b *Backend, c C, now int64) bool {
	l := p.lists[b]
	if l == nil {
		if p.maxIdle == 0 {
			return false
		}
		l = &idleList[C]{entries: make([]idleEntry[C], 0, min(p.maxIdle, initialIdleCap)), used: now}
		p.lists[b] = l
	}
	if len(l.entries) >= p.maxIdle {
		return false
	}
	l.entries = append(l.entries, idleEntry[C]{conn: c, idleSince: now})
	return true
}

// Remove takes c out of b's idle conns, when it closed or failed while idle
// (the backend closed it). It returns false if c was not idle in the pool,
// for example because Get had already handed it out. It scans linearly: a
// rare event on a short stack.
func (p *ConnPool[C]) Remove(b *Backend, c C) bool {
	l := p.lists[b]
	if l == nil {
		return false
	}
	for i := range l.entries {
		if l.entries[i].conn == c {
			last := len(l.entries) - 1
			copy(l.entries[i:], l.entries[i+1:]) // keep age order for Expired
			l.entries[last] = idleEntry[C]{}
			l.entries = l.entries[:last]
			return true
		}
	}
	return false
}

// Expired removes every conn idle for longer than idleTimeout at now (Unix
// nanoseconds) and then calls fn for each, which closes it. Run it from the
// loop's ticker. It does nothing when idleTimeout is zero or negative. The
// pool is consistent before the first fn call, so fn may Get, Put or Remove;
// it must not call Expired or Drop.
func (p *ConnPool[C]) Expired(now int64, fn func(b *Backend, c C)) {
	if p.idleTimeout <= 0 {
		return
	}
	for b, l := range p.lists {
		if l.gets != l.seen {
			l.seen, l.used = l.gets, now
		}
		kept := l.entries[:0]
		for _, e := range l.entries {
			if now-e.idleSince > p.idleTimeout {
				p.gone = append(p.gone, goneConn[C]{b: b, conn: e.conn})
			} else {
				kept = append(kept, e)
			}
		}
		clear(l.entries[len(kept):])
		l.entries = kept
	}
	for _, g := range p.gone {
		fn(g.b, g.conn)
	}
	clear(p.gone)
	p.gone = p.gone[:0]
}

// Drop removes every idle conn of b, calling fn for each after the removal,
// and forgets b: use it when b leaves its Set or starts draining. fn may Get,
// Put or Remove; it must not call Expired or Drop.
func (p *ConnPool[C]) Drop(b *Backend, fn func(c C)) {
	l := p.lists[b]
	if l == nil {
		return
	}
	delete(p.lists, b)
	for _, e := range l.entries {
		fn(e.conn)
	}
}

// Idle returns the number of idle conns of b.
func (p *ConnPool[C]) Idle(b *Backend) int {
	if l := p.lists[b]; l != nil {
		return len(l.entries)
	}
	return 0
}

// Len returns the number of idle conns of every backend.
func (p *ConnPool[C]) Len() int {
	n := 0
	for _, l := range p.lists {
		n += len(l.entries)
	}
	return n
}

// Want returns how many conns to dial for b to have target idle at now,
// never more than maxIdlePerBackend allows; 0 when it already has them or
// target is zero or negative. The engine pre-dials Want(b, connsPerBackend)
// conns per backend at start and Puts them as they connect.
//
// A backend no request asked a conn of (Get) for idleTimeout is quiet: its
// target falls to one, so that the conns it expires are not dialed again
// every idleTimeout for nothing (64 connects per backend and loop every
// 15 s, and their garbage, on a proxy nobody uses), while its next request
// still finds one conn ready. The first Get after that makes the target
// whole again (seen at the next Expired). Gets are counted, not timed, so
// that the request path only increments a field; the time of use is taken
// by Expired, which the engine runs every tick.
func (p *ConnPool[C]) Want(b *Backend, target int, now int64) int {
	if l := p.lists[b]; l != nil && p.idleTimeout > 0 && l.gets == l.seen && now-l.used > p.idleTimeout {
		target = min(target, 1)
	}
	return max(min(target, p.maxIdle)-p.Idle(b), 0)
}
