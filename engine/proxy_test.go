package engine

import (
	"net/http"
	"testing"
)

func TestRoundRobinRotation(t *testing.T) {
	s, _ := proxyToDemo(t, 3, Config{Loops: 2, ConnsPerBackend: 2})
	client := &http.Client{}
	var got []string
	for range 9 {
		resp, _ := get(t, client, "http://"+s.Addr()+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got = append(got, resp.Header.Get("Server"))
	}
	// Rotation is per request across loops: any window of 3 holds each
	// backend once.
	for i := 0; i+3 <= len(got); i += 3 {
		seen := map[string]bool{}
		for _, id := range got[i : i+3] {
			seen[id] = true
		}
		if len(seen) != 3 {
			t.Fatalf("rotation %v: window %d has %v", got, i/3, got[i:i+3])
		}
	}
}
