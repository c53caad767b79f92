package httpparse

import (
	"bytes"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

type chunkCase struct {
	name    string
	in      string // the body; valid bodies are followed by chunkNext
	payload string // the decoded payload of a valid body
	bad     bool
}

// chunkNext stands for the next message after a body: the scanner must
// stop right before it.
const chunkNext = "GET / HTTP/1.1\r\n"

// Each attack case sits right after its legitimate twin.
var chunkCases = []chunkCase{
	{name: "empty body", in: "0\r\n\r\n"},
	{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", payload: "hello world"},
	{name: "upper-case hex", in: "A\r\n0123456789\r\n0\r\n\r\n", payload: "0123456789"},
	{name: "lower-case hex", in: "a\r\n0123456789\r\n0\r\n\r\n", payload: "0123456789"},
	{name: "leading zeros", in: "0005\r\nhello\r\n000\r\n\r\n", payload: "hello"},
	{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "empty size", in: "\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "sign", in: "+5\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "negative", in: "-5\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "not hex", in: "5g\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "max size accepted", in: "7fffffffffffffff\r\nabc", bad: false, payload: "abc"}, // incomplete: see TestChunkedIncomplete
	{name: "size over int64", in: "8000000000000000\r\n", bad: true},
	{name: "size over uint64", in: "10000000000000000\r\n", bad: true},
	{name: "size 17 digits with leading zero", in: "00000000000000005\r\nhello\r\n0\r\n\r\n", payload: "hello"},

	// Chunk extensions, RFC 9112 §7.1.1.
	{name: "ext name", in: "5;a\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "ext token value", in: "5;a=b\r\nhello\r\n0;x=y\r\n\r\n", payload: "hello"},
	{name: "ext quoted value", in: "5;a=\"b c;\\\"d\"\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "ext BWS", in: "5 ; a = b ;c\t;\td\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "ext BWS quoted", in: "5;a= \"b\" ;c\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "ext quoted obs-text", in: "5;a=\"\xe9\"\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "whitespace after size", in: "5 \r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "whitespace after ext", in: "5;a \r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "whitespace after ext value", in: "5;a=b \r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "empty ext", in: "5;\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "empty ext value", in: "5;a=\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext name not a token", in: "5;a(b\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext value not a token", in: "5;a=b\"c\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext unclosed quote", in: "5;a=\"b\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext CTL in quote", in: "5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext escaped CTL", in: "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext text after quote", in: "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "ext double equals", in: "5;a==b\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "size line at the limit", in: "5;" + strings.Repeat("a", maxChunkLineLength-4) + "\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "size line over the limit", in: "5;" + strings.Repeat("a", maxChunkLineLength-3) + "\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "size line endless", in: "5;" + strings.Repeat("a", 2*maxChunkLineLength), bad: true},

	// Line ends and chunk data, RFC 9112 §7.1.
	{name: "bare LF after size", in: "5\nhello\r\n0\r\n\r\n", bad: true},
	{name: "bare CR after size", in: "5\rhello\r\n0\r\n\r\n", bad: true},
	{name: "bare LF after data", in: "5\r\nhello\n0\r\n\r\n", bad: true},
	{name: "data longer than size", in: "5\r\nhello!\r\n0\r\n\r\n", bad: true},
	{name: "data shorter than size", in: "6\r\nhello\r\n0\r\n\r\n", bad: true},
	{name: "no CRLF after data", in: "5\r\nhello0\r\n\r\n", bad: true},
	{name: "CRLF in data", in: "4\r\n\r\n\r\n\r\n0\r\n\r\n", payload: "\r\n\r\n"},
	{name: "bare LF at the end", in: "0\r\n\n", bad: true},
	{name: "bare LF after last chunk", in: "0\n\r\n", bad: true},

	// Trailer section, RFC 9112 §7.1.2.
	{name: "trailer", in: "5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-B:\r\n\r\n", payload: "hello"},
	{name: "trailer obs-text", in: "0\r\nX: \xe9\t\r\n\r\n"},
	{name: "trailer obs-fold", in: "0\r\nX: a\r\n b\r\n\r\n", bad: true},
	{name: "trailer SP before colon", in: "0\r\nX : a\r\n\r\n", bad: true},
	{name: "trailer no colon", in: "0\r\nX\r\n\r\n", bad: true},
	{name: "trailer empty name", in: "0\r\n: a\r\n\r\n", bad: true},
	{name: "trailer NUL", in: "0\r\nX: a\x00\r\n\r\n", bad: true},
	{name: "trailer DEL", in: "0\r\nX: a\x7f\r\n\r\n", bad: true},
	{name: "trailer bare LF", in: "0\r\nX: a\n\r\n", bad: true},
	{name: "trailer bare CR", in: "0\r\nX: a\rb\r\n\r\n", bad: true},
	{name: "trailer at the limit", in: "0\r\nX: " + strings.Repeat("a", maxTrailerBytes-7) + "\r\n\r\n"},
	{name: "trailer over the limit", in: "0\r\nX: " + strings.Repeat("a", maxTrailerBytes-6) + "\r\n\r\n", bad: true},
}

// scanAll runs Scan over in split into pieces of at most step bytes
// (step 0: one piece) and returns where the body ended, or -1.
func scanAll(in []byte, step int) (end int, err error) {
	var s ChunkedScanner
	off := 0
	for off < len(in) {
		k := len(in) - off
		if step > 0 && k > step {
			k = step
		}
		n, done, err := s.Scan(in[off : off+k])
		if err != nil {
			return -1, err
		}
		if !done && n != k {
			return -1, errNotAll
		}
		off += n
		if done {
			return off, nil
		}
	}
	return -1, ErrNeedMore
}

// decodeAll runs Decode over in split into pieces of at most step bytes.
func decodeAll(in []byte, step int) (payload []byte, end int, err error) {
	var s ChunkedScanner
	off := 0
	for off < len(in) {
		k := len(in) - off
		if step > 0 && k > step {
			k = step
		}
		p := in[off : off+k]
		for len(p) > 0 {
			n, data, done, err := s.Decode(p)
			if err != nil {
				return nil, -1, err
			}
			if data != nil && (len(data) == 0 || &data[0] != &p[n-len(data)]) {
				return nil, -1, errNotAll
			}
			payload = append(payload, data...)
			p = p[n:]
			off += n
			if done {
				return payload, off, nil
			}
		}
	}
	return payload, -1, ErrNeedMore
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errNotAll = testErr("Scan consumed less than all of p without being done")

func TestChunked(t *testing.T) {
	for _, c := range chunkCases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in + chunkNext)
			for _, step := range []int{0, 1, 2, 3, 7} {
				end, err := scanAll(in, step)
				payload, dend, derr := decodeAll(in, step)
				if c.name == "max size accepted" {
					if err != ErrNeedMore || derr != ErrNeedMore || string(payload) != c.payload+chunkNext {
						t.Fatalf("step %d: %v %v %q", step, err, derr, payload)
					}
					continue
				}
				if c.bad {
					if err != ErrBadChunk || derr != ErrBadChunk {
						t.Fatalf("step %d: Scan err %v, Decode err %v; want ErrBadChunk", step, err, derr)
					}
					continue
				}
				if err != nil || derr != nil {
					t.Fatalf("step %d: Scan err %v, Decode err %v", step, err, derr)
				}
				if end != len(c.in) || dend != len(c.in) {
					t.Fatalf("step %d: body ends at %d (Scan), %d (Decode); want %d", step, end, dend, len(c.in))
				}
				if string(payload) != c.payload {
					t.Fatalf("step %d: payload %q; want %q", step, payload, c.payload)
				}
			}
		})
	}
}

// TestChunkedIncomplete wants every strict prefix of a valid body to be
// consumed whole and not done.
func TestChunkedIncomplete(t *testing.T) {
	for _, c := range chunkCases {
		if c.bad {
			continue
		}
		step := 1
		if len(c.in) > 2000 {
			step = 97 // the long limit cases: a sample of prefixes is enough
		}
		for k := 0; k < len(c.in); k += step {
			var s ChunkedScanner
			n, done, err := s.Scan([]byte(c.in[:k]))
			if err != nil || done || n != k {
				t.Fatalf("%s: prefix %d: n, done, err = %d, %v, %v", c.name, k, n, done, err)
			}
		}
	}
}

// TestChunkedRandomSplits cuts a long body with many chunk shapes at
// random points, mixing Scan and Decode on one scanner, and checks where
// the body ends; then it checks the payload decoded in pieces against the
// one that was encoded.
func TestChunkedRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var body, want bytes.Buffer
	for i := 0; i < 200; i++ {
		data := make([]byte, 1+rng.Intn(300))
		rng.Read(data)
		size := strings.Repeat("0", rng.Intn(2)) + strconv.FormatInt(int64(len(data)), 16)
		if rng.Intn(2) == 0 {
			size = strings.ToUpper(size)
		}
		ext := []string{"", ";a=b", " ;q=\"x\\\"y\"", ";e"}[rng.Intn(4)]
		body.WriteString(size + ext + "\r\n")
		body.Write(data)
		body.WriteString("\r\n")
		want.Write(data)
	}
	body.WriteString("0\r\nA: b\r\n\r\n")
	end := body.Len()
	body.WriteString(chunkNext)
	in := body.Bytes()

	for trial := 0; trial < 50; trial++ {
		var s ChunkedScanner
		off := 0
		for done := false; !done && off < len(in); {
			k := min(1+rng.Intn(600), len(in)-off)
			p := in[off : off+k]
			var n int
			var err error
			if rng.Intn(2) == 0 {
				n, done, err = s.Scan(p)
			} else {
				// Payload is checked below; a mixed run checks the end.
				n, _, done, err = s.Decode(p)
			}
			if err != nil {
				t.Fatal(err)
			}
			off += n
		}
		if off != end {
			t.Fatalf("trial %d: body ends at %d; want %d", trial, off, end)
		}
	}
	for _, step := range []int{0, 1, 5, 64} {
		payload, dend, err := decodeAll(in, step)
		if err != nil || dend != end || !bytes.Equal(payload, want.Bytes()) {
			t.Fatalf("step %d: end %d, err %v, payload equal %v", step, dend, err, bytes.Equal(payload, want.Bytes()))
		}
	}
}

func TestChunkedAfterDone(t *testing.T) {
	var s ChunkedScanner
	if n, done, err := s.Scan([]byte("0\r\n\r\nX")); n != 5 || !done || err != nil {
		t.Fatalf("n, done, err = %d, %v, %v", n, done, err)
	}
	if n, done, err := s.Scan([]byte("X")); n != 0 || !done || err != nil {
		t.Fatalf("after done: n, done, err = %d, %v, %v", n, done, err)
	}
	if n, data, done, err := s.Decode([]byte("X")); n != 0 || data != nil || !done || err != nil {
		t.Fatalf("Decode after done: %d, %q, %v, %v", n, data, done, err)
	}
	s.Reset()
	if n, done, err := s.Scan([]byte("1\r\n")); n != 3 || done || err != nil {
		t.Fatalf("after Reset: n, done, err = %d, %v, %v", n, done, err)
	}
}

func TestChunkedErrorSticky(t *testing.T) {
	var s ChunkedScanner
	if _, _, err := s.Scan([]byte("z")); err != ErrBadChunk {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := s.Scan([]byte("0\r\n\r\n")); err != ErrBadChunk {
		t.Fatalf("second Scan err = %v", err)
	}
	if _, _, _, err := s.Decode([]byte("0\r\n\r\n")); err != ErrBadChunk {
		t.Fatalf("Decode err = %v", err)
	}
	if _, _, err := s.Scan(nil); err != ErrBadChunk {
		t.Fatalf("empty Scan err = %v", err)
	}
}

func TestChunkedDecodeStopsAtData(t *testing.T) {
	var s ChunkedScanner
	p := []byte("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	n, data, done, err := s.Decode(p)
	if n != 6 || string(data) != "abc" || done || err != nil {
		t.Fatalf("first: %d %q %v %v", n, data, done, err)
	}
	n, data, done, err = s.Decode(p[6:])
	if n != 7 || string(data) != "de" || done || err != nil {
		t.Fatalf("second: %d %q %v %v", n, data, done, err)
	}
	n, data, done, err = s.Decode(p[13:])
	if n != 7 || data != nil || !done || err != nil {
		t.Fatalf("last: %d %q %v %v", n, data, done, err)
	}
}
