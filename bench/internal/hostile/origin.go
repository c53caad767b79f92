package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// chunk is the unit the origin and the transfer clients write and read
// in: 64 KiB, 32 paced reads a second at 2 MiB/s.
const chunk = 64 << 10

// originHeaderTimeout bounds how long the origin waits for a request
// head from a proxy.
const originHeaderTimeout = 10 * time.Second

// Origin is the backend of the slowtransfer scenario, on loopback, for
// what pilb-backend does not do: it serves bodies of any size (pilb-backend
// stops at 64 MiB) and reads uploads at a capped rate (pilb-backend reads
// as fast as it can).
//
//	GET  /bytes/N  N bytes of a fixed pattern, Content-Length, as fast as the proxy takes them
//	POST /sink     reads the body at Rate bytes/s, then 200 with the byte count
//	anything else  200 "ok" (health checks, warm-up)
type Origin struct {
	// Addr is its host:port.
	Addr string
	// Rate is the bytes per second /sink reads.
	Rate int64
	srv  *http.Server
	done chan error
}

// StartOrigin listens on a free loopback port and serves until Close.
func StartOrigin(rate int64) (*Origin, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("hostile: origin read rate %d: want > 0", rate)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &Origin{Addr: ln.Addr().String(), Rate: rate, done: make(chan error, 1)}
	o.srv = &http.Server{Handler: http.HandlerFunc(o.serve), ReadHeaderTimeout: originHeaderTimeout}
	go func() { o.done <- o.srv.Serve(ln) }()
	return o, nil
}

// Close stops the origin and closes its connections.
func (o *Origin) Close() error {
	err := o.srv.Close()
	if serr := <-o.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func (o *Origin) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/bytes/"):
		n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "want /bytes/N with N ≥ 0", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, io.LimitReader(patternReader{}, n))
	case r.Method == http.MethodPost && r.URL.Path == "/sink":
		n, err := readPaced(r.Context(), r.Body, o.Rate, nil)
		if err != nil {
			http.Error(w, fmt.Sprintf("read %d bytes, then: %v", n, err), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	default:
		_, _ = io.WriteString(w, "ok\n")
	}
}

// patternReader reads an endless run of a 64-byte alphabet, the bytes
// pilb-backend's /bytes/N sends.
type patternReader struct{}

const patternAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var patternChunk = func() []byte {
	b := make([]byte, chunk)
	for i := range b {
		b[i] = patternAlphabet[i%len(patternAlphabet)]
	}
	return b
}()

// Read fills p from the pattern; every Read starts a period anew, which
// is fine for load that no one checks byte by byte.
func (patternReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], patternChunk)
	}
	return n, nil
}

// readPaced reads r to its end at no more than rate bytes/s, adding what
// it read to done when that is not nil.
func readPaced(ctx context.Context, r io.Reader, rate int64, done *counter) (int64, error) {
	buf := make([]byte, chunk)
	start := time.Now()
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		done.add(int64(k))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		due := start.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
		if !sleepCtx(ctx, time.Until(due)) {
			return n, ctx.Err()
		}
	}
}
