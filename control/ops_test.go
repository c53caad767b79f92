package control

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOpsEndpoints: /healthz answers without the token, with the health
// verdict; /metrics needs the token like the rest of the API.
func TestOpsEndpoints(t *testing.T) {
	r, _ := newTestRegistry(t, Config{})
	healthy, reason := true, "ok"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "pilb_up 1\n")
	})
	srv := httptest.NewServer(&Handler{Registry: r, Token: "sesame",
		Health: func() (bool, string) { return healthy, reason }, Metrics: metrics})
	t.Cleanup(srv.Close)

	code, body, _ := do(t, "GET", srv.URL+"/healthz", "", "")
	if code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, body)
	}
	healthy, reason = false, "draining"
	code, body, _ = do(t, "GET", srv.URL+"/healthz", "", "")
	if code != 503 || body["status"] != "draining" {
		t.Fatalf("healthz while draining: %d %v", code, body)
	}
	if code, _, _ := do(t, "HEAD", srv.URL+"/healthz", "", ""); code != 503 {
		t.Fatalf("HEAD healthz: %d", code)
	}
	if code, _, _ := do(t, "POST", srv.URL+"/healthz", "", ""); code != 405 {
		t.Fatalf("POST healthz: %d", code)
	}

	// /metrics: 401 without the token, the exposition with it.
	if code, _, _ := do(t, "GET", srv.URL+"/metrics", "", ""); code != 401 {
		t.Fatalf("metrics without token: %d", code)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer sesame")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pilb_up 1\n" {
		t.Fatalf("metrics: %d %q", resp.StatusCode, b)
	}
}
