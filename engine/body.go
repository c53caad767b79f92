package engine

import "github.com/pilb-proxy/pilb/httpparse"

// msgBody tracks how much of a message body is still to come, for request
// bodies on their way up and response bodies on their way down alike.
type msgBody struct {
	kind  httpparse.BodyKind
	left  int64 // BodyLength: bytes still to come
	chunk httpparse.ChunkedScanner
}

// reset starts a body of kind with the declared length (BodyLength only).
func (b *msgBody) reset(kind httpparse.BodyKind, length int64) {
	b.kind, b.left = kind, length
	b.chunk.Reset()
}

// empty reports whether the body is complete before any byte of it: no
// body, or Content-Length: 0.
func (b *msgBody) empty() bool {
	return b.kind == httpparse.BodyNone || b.kind == httpparse.BodyLength && b.left == 0
}

// take consumes the body bytes at the start of p: n of them belong to the
// body (the rest is the next message), and done says the body ended there.
// The caller forwards p[:n], or ends the exchange. A close-delimited body
// takes everything and is done only at EOF.
func (b *msgBody) take(p []byte) (n int, done bool, err error) {
	switch b.kind {
	case httpparse.BodyLength:
		n = int(min(int64(len(p)), b.left))
		b.left -= int64(n)
		return n, b.left == 0, nil
	case httpparse.BodyChunked:
		return b.chunk.Scan(p)
	case httpparse.BodyUntilClose:
		return len(p), false, nil
	}
	return 0, true, nil
}
