package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWarnLimiter(t *testing.T) {
	var w warnLimiter
	sec := int64(1e9)
	for i := range warnPerSecond {
		if ok, s := w.allow(5*sec + int64(i)); !ok || s != 0 {
			t.Fatalf("line %d: %v %d", i, ok, s)
		}
	}
	for range 7 {
		if ok, _ := w.allow(5*sec + 500); ok {
			t.Fatal("over the budget")
		}
	}
	// The next second: allowed, and told what was held back.
	if ok, s := w.allow(6 * sec); !ok || s != 7 {
		t.Fatalf("next second: %v, suppressed %d", ok, s)
	}
	if ok, s := w.allow(6*sec + 1); !ok || s != 0 {
		t.Fatalf("then: %v, suppressed %d", ok, s)
	}
}

// recordingHandler keeps the records logged at warn and above.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.mu.Lock()
	h.msgs = append(h.msgs, b.String())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// TestWarnStormIsRateLimited: pilb's own error answers are logged at warn,
// with what they concern, but a storm of them writes at most
// warnPerSecond lines per loop each second; the rest is counted.
func TestWarnStormIsRateLimited(t *testing.T) {
	h := &recordingHandler{}
	be := startScripted(t, serveOK)
	cfg := e2eConfig()
	cfg.Loops = 1
	cfg.Backends = setOf(t, be.Addr())
	cfg.Metrics = true
	cfg.Logger = slog.New(h)
	s := startProxy(t, cfg)
	scrape := scrapeEngine(t, s)

	start := time.Now()
	const storm = 60
	for range storm {
		c := dialRaw(t, s.Addr())
		expectStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400)
		c.Close()
	}
	elapsed := time.Since(start)
	var warned []string
	for _, l := range h.lines() {
		if strings.HasPrefix(l, "pilb answered with an error") {
			warned = append(warned, l)
		}
	}
	maxLines := warnPerSecond * (int(elapsed/time.Second) + 2)
	if len(warned) == 0 || len(warned) > maxLines {
		t.Fatalf("%d warn lines for %d errors in %v, want 1 to %d", len(warned), storm, elapsed, maxLines)
	}
	if !strings.Contains(warned[0], "status=400") || !strings.Contains(warned[0], "client=127.0.0.1") ||
		!strings.Contains(warned[0], "duplicate_host") && !strings.Contains(warned[0], "more than one Host") {
		t.Errorf("warn line %q", warned[0])
	}
	if got := metricValue(scrape(), "pilb_warn_logs_suppressed_total"); int(got)+len(warned) != storm {
		t.Errorf("%v suppressed + %d written, want %d", got, len(warned), storm)
	}
}
