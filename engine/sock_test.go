package engine

import (
	"bytes"
	"testing"
)

// TestSplitSegments checks that a large write is cut in pieces of at most
// writeSegment that together are the write, in order, without copying.
func TestSplitSegments(t *testing.T) {
	for _, n := range []int{1, writeSegment - 1, writeSegment, writeSegment + 1, 4 * writeSegment, 4*writeSegment + 7} {
		p := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		segs := splitSegments(nil, p)
		want := (n + writeSegment - 1) / writeSegment
		if len(segs) != want {
			t.Errorf("%d bytes: %d pieces, want %d", n, len(segs), want)
		}
		var joined []byte
		for i, s := range segs {
			if len(s) == 0 || len(s) > writeSegment {
				t.Errorf("%d bytes: piece %d has %d bytes", n, i, len(s))
			}
			if i < len(segs)-1 && len(s) != writeSegment {
				t.Errorf("%d bytes: piece %d has %d bytes, want %d (only the last is short)", n, i, len(s), writeSegment)
			}
			joined = append(joined, s...)
		}
		if !bytes.Equal(joined, p) {
			t.Errorf("%d bytes: the pieces are not the write", n)
		}
		if &segs[0][0] != &p[0] {
			t.Errorf("%d bytes: the first piece is a copy", n)
		}
	}
	scratch := make([][]byte, 0, 8)
	if got := splitSegments(scratch[:0], make([]byte, 3*writeSegment)); &got[0] != &scratch[:1][0] {
		t.Error("a scratch with room was not reused")
	}
}
