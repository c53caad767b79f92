package httpparse

import "testing"

func TestChunkedBasic(t *testing.T) {
	in := "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-T: y\r\n\r\nNEXT"
	var s ChunkedScanner
	n, done, err := s.Scan([]byte(in))
	if err != nil || !done || in[n:] != "NEXT" {
		t.Fatalf("n=%d done=%v err=%v", n, done, err)
	}
	s.Reset()
	p := []byte(in)
	var out []byte
	for len(p) > 0 {
		n, data, done, err := s.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data...)
		p = p[n:]
		if done {
			break
		}
	}
	if string(out) != "hello world" || string(p) != "NEXT" {
		t.Fatalf("%q %q", out, p)
	}
}
