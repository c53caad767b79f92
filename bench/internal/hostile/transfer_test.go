package hostile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Through the origin directly (no proxy): a paced download and an upload
// to the paced sink move every byte, and the counters see them all.
func TestOriginTransfers(t *testing.T) {
	o, err := StartOrigin(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	const size = 3<<20 + 17 // not a multiple of the chunk
	var down, up counter
	tr, err := SlowDownload(context.Background(), o.Addr, size, 256<<20, &down)
	if err != nil || tr.Bytes != size || down.Load() != size {
		t.Errorf("download: %+v, counted %d, err %v", tr, down.Load(), err)
	}
	tr, err = Upload(context.Background(), o.Addr, size, &up)
	if err != nil || tr.Bytes != size || up.Load() != size {
		t.Errorf("upload: %+v, counted %d, err %v", tr, up.Load(), err)
	}
	resp, err := http.Get("http://" + o.Addr + "/bytes/-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/bytes/-1: %s", resp.Status)
	}
}

// The download's bytes are pilb-backend's pattern.
func TestPatternReader(t *testing.T) {
	b, _ := io.ReadAll(io.LimitReader(patternReader{}, 130))
	want := strings.Repeat(patternAlphabet, 3)[:130]
	if !bytes.Equal(b, []byte(want)) {
		t.Errorf("pattern %q", b)
	}
}

// A proxy's error answer and a body cut short are errors, not transfers.
func TestTransferErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			// Read first: an answer before the body races the client's
			// writes against the reset of the close.
			io.Copy(io.Discard, r.Body)
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("short"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if _, err := Upload(context.Background(), addr, 1<<20, nil); !errors.Is(err, ErrStatus) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("upload refused: err = %v", err)
	}
	if tr, err := SlowDownload(context.Background(), addr, 1000, 1<<20, nil); err == nil || tr.Bytes != 5 {
		t.Errorf("download cut short: %+v, err = %v", tr, err)
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 300 << 10: "300 KiB", 3 << 19: "1.5 MiB", 2<<20 + 1: "2 MiB", 17: "17 B"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}
