package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// -print labels backends s1, s2 … as local does.
func TestPrintHostsLabels(t *testing.T) {
	var lf ladderFlags
	lf.conns, lf.sizes = intList{1, 16}, intList{0}
	var b strings.Builder
	if err := printHosts(&b, "http://10.0.1.10:8080", "", 2, []string{"10.0.1.21:5000", "10.0.1.22:5000"}, lf); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"-listen 10.0.1.21:5000 -id s1 ", "-listen 10.0.1.22:5000 -id s2 ",
		"-agent http://10.0.1.10:9100 ", "-loops 2 -conns 1,16 -sizes 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("-print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-id s0") {
		t.Errorf("-print labels a backend s0:\n%s", out)
	}
}

// An agent that accepts and never answers does not hang remote.
func TestAgentMachineTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	if _, err := agentMachine(&http.Client{Timeout: 100 * time.Millisecond}, srv.URL); err == nil {
		t.Fatal("agentMachine succeeded against a silent agent")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("agentMachine took %s", d)
	}
}
