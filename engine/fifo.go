package engine

// fifo is a first-in, first-out line of a loop's: the connects waiting
// for a slot (dial.go), the off-loop sockets waiting to go back on it
// (sock.go). Its array is let go once it empties, so that a burst leaves
// nothing behind.
type fifo[T any] struct {
	items []T // waiting, from head on
	head  int
}

func (q *fifo[T]) push(x T) { q.items = append(q.items, x) }

// len returns how many wait.
func (q *fifo[T]) len() int { return len(q.items) - q.head }

// pop takes out the oldest; ok is false when none waits.
func (q *fifo[T]) pop() (x T, ok bool) {
	if q.head == len(q.items) {
		return x, false
	}
	var zero T
	x, q.items[q.head] = q.items[q.head], zero
	if q.head++; q.head == len(q.items) {
		q.items, q.head = nil, 0
	}
	return x, true
}
