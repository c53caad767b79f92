package hostile

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/results"
)

// Transfer is what one slow download or upload moved.
type Transfer struct {
	// Bytes is the body bytes the client read (download) or the origin
	// counted (upload).
	Bytes int64
	// Elapsed is from the request to the end of the response.
	Elapsed time.Duration
}

// counter counts bytes moved for progress lines; a nil counter counts
// nothing.
type counter struct{ n atomic.Int64 }

func (c *counter) add(n int64) {
	if c != nil {
		c.n.Add(n)
	}
}

// Load returns the count.
func (c *counter) Load() int64 { return c.n.Load() }

// transport makes one connection per transfer, without compression.
func transport() *http.Transport {
	return &http.Transport{DisableCompression: true, DisableKeepAlives: true, MaxIdleConns: -1}
}

// SlowDownload GETs http://addr/bytes/size and reads the body at no more
// than rate bytes/s: a client on a slow link.
func SlowDownload(ctx context.Context, addr string, size, rate int64, done *counter) (Transfer, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/bytes/%d", addr, size), nil)
	if err != nil {
		return Transfer{}, err
	}
	tr := transport()
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return Transfer{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Transfer{}, fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	n, err := readPaced(ctx, resp.Body, rate, done)
	t := Transfer{Bytes: n, Elapsed: time.Since(start)}
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d of %d bytes", ErrShort, n, size)
	}
	return t, err
}

// Upload POSTs size bytes to http://addr/sink as fast as the proxy takes
// them and waits for the origin's count.
func Upload(ctx context.Context, addr string, size int64, done *counter) (Transfer, error) {
	start := time.Now()
	body := &countingReader{r: io.LimitReader(patternReader{}, size), done: done}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/sink", body)
	if err != nil {
		return Transfer{}, err
	}
	req.ContentLength = size
	tr := transport()
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return Transfer{Elapsed: time.Since(start)}, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	t := Transfer{Elapsed: time.Since(start)}
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("%w: %s: %s", ErrStatus, resp.Status, strings.TrimSpace(string(msg)))
	}
	t.Bytes, err = strconv.ParseInt(strings.TrimSpace(string(msg)), 10, 64)
	if err != nil {
		return t, fmt.Errorf("hostile: the origin's count %q: %v", msg, err)
	}
	if t.Bytes != size {
		return t, fmt.Errorf("%w: the origin read %d of %d bytes", ErrShort, t.Bytes, size)
	}
	return t, nil
}

// countingReader counts what the transport reads of an upload body.
type countingReader struct {
	r    io.Reader
	done *counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.done.add(int64(n))
	return n, err
}

// The warm-up before a slow transfer's baseline (Env.transferRound): one
// transfer of the same kind at full speed and one at the measured rate,
// so that every path the measured transfer takes (flow control, queued
// output) has run once. The slow one must outlast the kernel's socket
// buffers: on loopback they grow to several MB on each side and take the
// first seconds of a slow transfer, so that a proxy's own buffers only
// fill after them (pilb paused its backend 0 times in a 2 MiB download
// at 2 MiB/s, 3 times in 16 MiB). A warm-up of 1 s left that first fill,
// a one-time cost, inside the measured growth.
const (
	warmFastSize = 4 << 20
	warmSlowTime = 8 * time.Second
	// transferWarm is about what the warm-up and its settle take.
	transferWarm = warmSlowTime + 2*settle
)

// warmTransfer runs the warm-up for variant (results.VariantDownload or
// results.VariantUpload) through the proxy at addr; rate is the measured
// transfer's rate.
func warmTransfer(ctx context.Context, addr, variant string, rate int64) error {
	slow := max(int64(float64(rate)*warmSlowTime.Seconds()), 1)
	if variant == results.VariantDownload {
		if _, err := SlowDownload(ctx, addr, warmFastSize, 1<<40, nil); err != nil {
			return err
		}
		_, err := SlowDownload(ctx, addr, slow, rate, nil)
		return err
	}
	// The origin reads every upload at rate: one short upload is both.
	_, err := Upload(ctx, addr, slow, nil)
	return err
}
