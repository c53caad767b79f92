package engine

import "testing"

func TestFifoOrderAndRelease(t *testing.T) {
	var q fifo[int]
	if _, ok := q.pop(); ok || q.len() != 0 {
		t.Fatal("an empty line gave something")
	}
	for i := range 3 {
		q.push(i)
	}
	for want := range 2 {
		if got, ok := q.pop(); !ok || got != want {
			t.Fatalf("pop = %d, %v; want %d", got, ok, want)
		}
	}
	q.push(3)
	if q.len() != 2 {
		t.Fatalf("len = %d, want 2", q.len())
	}
	for want := 2; want <= 3; want++ {
		if got, ok := q.pop(); !ok || got != want {
			t.Fatalf("pop = %d, %v; want %d", got, ok, want)
		}
	}
	if q.items != nil || q.head != 0 {
		t.Fatalf("emptied line keeps its array: %d items, head %d", len(q.items), q.head)
	}
}
