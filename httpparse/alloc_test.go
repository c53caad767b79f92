//go:build !race

package httpparse

import "testing"

// The zero-allocation promise of the package is checked here, not hoped
// for: every hot-path entry point must allocate nothing.

func TestAllocsParseRequest(t *testing.T) {
	for _, in := range validRequests {
		buf := []byte(in)
		var r Request
		if a := testing.AllocsPerRun(100, func() {
			if _, err := ParseRequest(buf, &r); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("ParseRequest allocates %v times per run on %q", a, in)
		}
	}
	// Resuming after ErrNeedMore, and failing, allocate nothing either.
	buf := []byte(browserRequest)
	bad := []byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
	var r Request
	if a := testing.AllocsPerRun(100, func() {
		r.Scanned = 0
		ParseRequest(buf[:300], &r)
		ParseRequest(buf, &r)
		ParseRequest(bad, &r)
	}); a != 0 {
		t.Errorf("ParseRequest allocates %v times per run when resuming or failing", a)
	}
}

func TestAllocsParseResponse(t *testing.T) {
	buf := []byte(benchResponse)
	var r Response
	if a := testing.AllocsPerRun(100, func() {
		if _, err := ParseResponse(buf, &r, false); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ParseResponse allocates %v times per run", a)
	}
}

func TestAllocsChunked(t *testing.T) {
	body := []byte("5;a=\"b\"\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX: y\r\n\r\n")
	var s ChunkedScanner
	if a := testing.AllocsPerRun(100, func() {
		s.Reset()
		if _, done, err := s.Scan(body); !done || err != nil {
			t.Fatal(done, err)
		}
	}); a != 0 {
		t.Errorf("Scan allocates %v times per run", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		s.Reset()
		for p := body; len(p) > 0; {
			n, _, done, err := s.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			if p = p[n:]; done {
				break
			}
		}
	}); a != 0 {
		t.Errorf("Decode allocates %v times per run", a)
	}
}
