package gnetlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Infof("Launching gnet with %d event-loops", 2)
	l.Warnf("received event[fd=%d] of a stale connection from event-loop(%d)", 7, 0)
	l.Warnf("failed to enqueue %s", "x")
	l.Errorf("engine shutdown error: %v", "boom")
	out := buf.String()
	if strings.Contains(out, "Launching") || strings.Contains(out, "stale") {
		t.Errorf("info or stale-connection notice above Debug:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN msg=\"failed to enqueue x\"") || !strings.Contains(out, "level=ERROR") {
		t.Errorf("warning or error missing:\n%s", out)
	}
}
