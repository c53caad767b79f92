package pool

import (
	"slices"
	"testing"
	"time"
)

// conn stands for a connection handle; the pool only compares it.
type conn int

func TestConnPoolLIFO(t *testing.T) {
	bs := newBackends(2)
	p := NewConnPool[conn](4, time.Minute)
	for c := conn(1); c <= 3; c++ {
		if !p.Put(bs[0], c, 0) {
			t.Fatalf("Put %d refused", c)
		}
	}
	if !p.Put(bs[1], 100, 0) {
		t.Fatal("Put on second backend refused")
	}
	for _, want := range []conn{3, 2} {
		if c, ok := p.Get(bs[0]); !ok || c != want {
			t.Fatalf("Get = %d, %v; want %d", c, ok, want)
		}
	}
	p.Put(bs[0], 4, 0)
	for _, want := range []conn{4, 1} {
		if c, ok := p.Get(bs[0]); !ok || c != want {
			t.Fatalf("Get = %d, %v; want %d", c, ok, want)
		}
	}
	if c, ok := p.Get(bs[0]); ok {
		t.Fatalf("Get on empty = %d", c)
	}
	if c, ok := p.Get(bs[1]); !ok || c != 100 {
		t.Fatalf("backends share a stack: %d, %v", c, ok)
	}
	if _, ok := p.Get(&Backend{}); ok {
		t.Fatal("Get on unknown backend")
	}
}

func TestConnPoolMaxIdle(t *testing.T) {
	b := newBackends(1)[0]
	p := NewConnPool[conn](2, 0)
	if !p.Put(b, 1, 0) || !p.Put(b, 2, 0) {
		t.Fatal("Put under maxIdle refused")
	}
	if p.Put(b, 3, 0) {
		t.Fatal("Put over maxIdle accepted")
	}
	if p.Idle(b) != 2 || p.Len() != 2 {
		t.Fatalf("Idle %d Len %d, want 2 2", p.Idle(b), p.Len())
	}
	for _, max := range []int{0, -1} {
		if NewConnPool[conn](max, 0).Put(b, 1, 0) {
			t.Fatalf("maxIdle %d kept a conn", max)
		}
	}
}

func TestConnPoolWant(t *testing.T) {
	b := newBackends(1)[0]
	p := NewConnPool[conn](4, 0)
	for _, tc := range []struct{ idle, target, want int }{
		{0, 2, 2}, {1, 2, 1}, {2, 2, 0}, {2, 10, 2}, {0, 0, 0}, {0, -1, 0},
	} {
		p.Drop(b, func(conn) {})
		for i := range tc.idle {
			p.Put(b, conn(i), 0)
		}
		if got := p.Want(b, tc.target, 0); got != tc.want {
			t.Errorf("idle %d target %d: Want %d, want %d", tc.idle, tc.target, got, tc.want)
		}
	}
}

// TestConnPoolWantQuiet: a backend no request asked a conn of for
// idleTimeout keeps one conn dialed, not its whole target, and gets the
// whole target back once a request asks again.
func TestConnPoolWantQuiet(t *testing.T) {
	b := newBackends(1)[0]
	p := NewConnPool[conn](64, 10*time.Second)
	for i := range 8 {
		p.Put(b, conn(i), 0) // pre-dialed at start: in use for the first window
	}
	p.Expired(5*sec, func(*Backend, conn) {})
	if got := p.Want(b, 8, 5*sec); got != 0 {
		t.Fatalf("Want %d with the target idle, want 0", got)
	}
	closed := 0
	p.Expired(11*sec, func(*Backend, conn) { closed++ })
	if closed != 8 {
		t.Fatalf("%d conns expired, want 8", closed)
	}
	if got := p.Want(b, 8, 11*sec); got != 1 {
		t.Fatalf("quiet backend: Want %d, want 1", got)
	}
	p.Put(b, 100, 11*sec)
	if got := p.Want(b, 8, 12*sec); got != 0 {
		t.Fatalf("quiet backend with one conn: Want %d, want 0", got)
	}
	// A request asks: the next Expired sees it, and the target is whole.
	if c, ok := p.Get(b); !ok || c != 100 {
		t.Fatalf("Get = %v, %v", c, ok)
	}
	p.Expired(12*sec, func(*Backend, conn) {})
	if got := p.Want(b, 8, 12*sec); got != 8 {
		t.Fatalf("after a request: Want %d, want 8", got)
	}
	// A Get that finds no conn counts as a request too.
	p.Expired(30*sec, func(*Backend, conn) {})
	if got := p.Want(b, 8, 30*sec); got != 1 {
		t.Fatalf("quiet again: Want %d, want 1", got)
	}
	if _, ok := p.Get(b); ok {
		t.Fatal("Get found a conn in an empty pool")
	}
	p.Expired(31*sec, func(*Backend, conn) {})
	if got := p.Want(b, 8, 31*sec); got != 8 {
		t.Fatalf("after a request that found none: Want %d, want 8", got)
	}
	// Without an idle timeout nothing is ever quiet.
	q := NewConnPool[conn](64, 0)
	q.Put(b, 1, 0)
	if got := q.Want(b, 8, 1000*sec); got != 7 {
		t.Fatalf("no idle timeout: Want %d, want 7", got)
	}
}

func TestConnPoolExpired(t *testing.T) {
	bs := newBackends(2)
	p := NewConnPool[conn](8, 10*time.Second)
	p.Put(bs[0], 1, 0*sec)
	p.Put(bs[0], 2, 5*sec)
	p.Put(bs[0], 3, 9*sec)
	p.Put(bs[1], 10, 1*sec)
	p.Put(bs[1], 11, 20*sec)

	type gone struct {
		b *Backend
		c conn
	}
	var got []gone
	collect := func(b *Backend, c conn) { got = append(got, gone{b, c}) }

	p.Expired(10*sec, collect) // idle exactly idleTimeout: kept
	if len(got) != 0 {
		t.Fatalf("expired at the limit: %v", got)
	}
	p.Expired(15*sec+1, collect)
	slices.SortFunc(got, func(a, b gone) int { return int(a.c - b.c) })
	if want := []gone{{bs[0], 1}, {bs[0], 2}, {bs[1], 10}}; !slices.Equal(got, want) {
		t.Fatalf("expired %v, want %v", got, want)
	}
	if p.Idle(bs[0]) != 1 || p.Idle(bs[1]) != 1 {
		t.Fatalf("Idle %d %d after expiry, want 1 1", p.Idle(bs[0]), p.Idle(bs[1]))
	}
	if c, _ := p.Get(bs[0]); c != 3 {
		t.Fatalf("survivor %d, want 3", c)
	}

	// fn may use the pool: the expired conns are already out.
	p.Put(bs[0], 4, 20*sec)
	p.Expired(100*sec, func(b *Backend, c conn) {
		if p.Idle(b) != 0 {
			t.Errorf("conn %d: pool not consistent inside fn", c)
		}
		p.Put(b, c+100, 100*sec)
	})
	if p.Len() != 2 {
		t.Fatalf("Len %d after re-Put in fn, want 2", p.Len())
	}

	never := NewConnPool[conn](8, 0)
	never.Put(bs[0], 1, 0)
	never.Expired(1<<62, func(*Backend, conn) { t.Fatal("idleTimeout 0 expired a conn") })
}

func TestConnPoolRemove(t *testing.T) {
	b := newBackends(1)[0]
	p := NewConnPool[conn](8, 10*time.Second)
	p.Put(b, 1, 0)
	p.Put(b, 2, sec)
	p.Put(b, 3, 2*sec)
	if !p.Remove(b, 2) {
		t.Fatal("Remove idle conn failed")
	}
	if p.Remove(b, 2) || p.Remove(b, 99) || p.Remove(&Backend{}, 1) {
		t.Fatal("Remove of a conn not idle succeeded")
	}
	var expired []conn
	p.Expired(11*sec, func(_ *Backend, c conn) { expired = append(expired, c) })
	if !slices.Equal(expired, []conn{1}) {
		t.Fatalf("expired %v after Remove, want [1]", expired)
	}
	if c, ok := p.Get(b); !ok || c != 3 {
		t.Fatalf("Get %d, %v, want 3", c, ok)
	}
}

func TestConnPoolDrop(t *testing.T) {
	bs := newBackends(2)
	p := NewConnPool[conn](8, 0)
	p.Put(bs[0], 1, 0)
	p.Put(bs[0], 2, 0)
	p.Put(bs[1], 3, 0)
	var dropped []conn
	p.Drop(bs[0], func(c conn) { dropped = append(dropped, c) })
	if !slices.Equal(dropped, []conn{1, 2}) {
		t.Fatalf("dropped %v", dropped)
	}
	if p.Idle(bs[0]) != 0 || p.Idle(bs[1]) != 1 {
		t.Fatal("Drop touched the wrong backend")
	}
	p.Drop(bs[0], func(conn) { t.Fatal("second Drop found conns") })
	if !p.Put(bs[0], 4, 0) {
		t.Fatal("Put after Drop refused")
	}
}
