package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeTool puts an executable shell script named name first on PATH.
func fakeTool(t *testing.T, name, script string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// An interrupt is reported as one, not as a load generator that hung.
func TestRunInterrupted(t *testing.T) {
	fakeTool(t, "wrk", "exec sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Run(ctx, Spec{Tool: "wrk", URL: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || strings.Contains(err.Error(), "in time") {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
