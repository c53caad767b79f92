package control

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// apiServer serves a Handler over a real loopback socket.
func apiServer(t *testing.T, token string) (*Registry, string) {
	t.Helper()
	r, _ := newTestRegistry(t, Config{})
	srv := httptest.NewServer(&Handler{Registry: r, Token: token})
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// do sends a request and returns the status and the decoded JSON body.
func do(t *testing.T, method, url, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if method == http.MethodHead {
		return resp.StatusCode, nil, resp.Header
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %q", method, url, ct, data)
	}
	var m map[string]any
	if data[0] == '{' {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, url, data, err)
		}
	} else {
		var list []map[string]any
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, url, data, err)
		}
		m = map[string]any{"list": list}
	}
	return resp.StatusCode, m, resp.Header
}

func TestAPIRegisterLifecycle(t *testing.T) {
	r, url := apiServer(t, "")
	code, m, _ := do(t, "POST", url+"/backends", "", `{"id":"s1","pool":"api","addr":"10.0.1.5:5000","weight":2,"ttl":"30s"}`)
	if code != 201 || m["id"] != "s1" || m["pool"] != "api" || m["state"] != "up" || m["weight"] != 2.0 || m["ttl"] != "30s" {
		t.Fatalf("register: %d %v", code, m)
	}
	code, m, _ = do(t, "POST", url+"/backends", "", `{"id":"s1","pool":"api","addr":"10.0.1.5:5000","weight":2,"ttl":30}`)
	if code != 200 || m["ttl"] != "30s" {
		t.Fatalf("refresh: %d %v", code, m)
	}
	// ":5000" takes the host the request came from.
	code, m, _ = do(t, "POST", url+"/backends", "", `{"id":"s2","addr":":5001"}`)
	if code != 201 || m["addr"] != "127.0.0.1:5001" || m["pool"] != "default" {
		t.Fatalf("register :5001: %d %v", code, m)
	}
	code, m, _ = do(t, "POST", url+"/backends", "", `{"id":"s3","addr":"0.0.0.0:5002"}`)
	if code != 201 || m["addr"] != "127.0.0.1:5002" {
		t.Fatalf("register 0.0.0.0:5002: %d %v", code, m)
	}
	code, m, _ = do(t, "GET", url+"/backends", "", "")
	if list := m["list"].([]map[string]any); code != 200 || len(list) != 3 || list[0]["source"] != "api" {
		t.Fatalf("list: %d %v", code, m)
	}
	code, m, _ = do(t, "GET", url+"/backends/s2", "", "")
	if code != 200 || m["addr"] != "127.0.0.1:5001" {
		t.Fatalf("get one: %d %v", code, m)
	}
	code, m, _ = do(t, "DELETE", url+"/backends/s2", "", "")
	if code != 200 || m["state"] != "draining" {
		t.Fatalf("delete: %d %v", code, m)
	}
	if len(r.Routes().Load().Backends()) != 2 {
		t.Fatal("deleted backend still routed")
	}
	code, m, _ = do(t, "DELETE", url+"/backends/s2", "", "")
	if code != 404 || !strings.Contains(m["error"].(string), "s2") {
		t.Fatalf("delete again: %d %v", code, m)
	}
	code, m, _ = do(t, "GET", url+"/pools", "", "")
	if list := m["list"].([]map[string]any); code != 200 || len(list) != 2 || list[0]["name"] != "api" {
		t.Fatalf("pools: %d %v", code, m)
	}
	if code, _, _ := do(t, "HEAD", url+"/backends", "", ""); code != 200 {
		t.Fatalf("HEAD: %d", code)
	}
}

// TestAPIBadRequestsChangeNothing: every malformed or refused request gets
// its status and a JSON error, and the table stays as it was.
func TestAPIBadRequestsChangeNothing(t *testing.T) {
	r, url := apiServer(t, "")
	if code, _, _ := do(t, "POST", url+"/backends", "", `{"id":"s1","addr":"10.0.0.1:80"}`); code != 201 {
		t.Fatal(code)
	}
	if err := r.Replace("-backends", SourceFlag, []Spec{{ID: "b1", Addr: "10.0.0.9:80"}}); err != nil {
		t.Fatal(err)
	}
	before := r.Routes().Load()
	big := `{"id":"s2","addr":"10.0.0.2:80","pool":"` + strings.Repeat("x", maxBody) + `"}`
	for _, tt := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80"`, 400},                // truncated JSON
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80"} {}`, 400},            // two objects
		{"POST", "/backends", `{"id":"s2","adr":"10.0.0.2:80"}`, 400},                // unknown field
		{"POST", "/backends", `{"id":"s2","addr":"db.internal:80"}`, 400},            // a name
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","weight":0}`, 400},    // weight 0
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","weight":-1}`, 400},   // weight < 0
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","ttl":"soon"}`, 400},  // bad ttl
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","ttl":-5}`, 400},      // negative ttl
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","ttl":"10ms"}`, 400},  // ttl too short
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","ttl":1e-10}`, 400},   // rounds to 0, not "no expiry"
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","ttl":"0.1ns"}`, 400}, // rounds to 0, not "no expiry"
		{"POST", "/backends", `{"id":"../x","addr":"10.0.0.2:80"}`, 400},             // bad id
		{"POST", "/backends", `{"id":"none","addr":"10.0.0.2:80"}`, 400},             // reserved id
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.2:80","pool":"none"}`, 400}, // reserved pool
		{"POST", "/backends", `[]`, 400},                                             // not an object
		{"POST", "/backends", ``, 400},                                               // empty
		{"POST", "/backends", big, 413},                                              // too large
		{"POST", "/backends", `{"id":"b1","addr":"10.0.0.2:80"}`, 409},               // a flag backend's id
		{"POST", "/backends", `{"id":"s2","addr":"10.0.0.1:80"}`, 409},               // s1's address
		{"DELETE", "/backends/b1", ``, 409},                                          // a flag backend
		{"DELETE", "/backends/nope", ``, 404},                                        // unknown
		{"PUT", "/backends", `{}`, 405},                                              // method
		{"PATCH", "/backends/s1", `{}`, 405},                                         // method
		{"POST", "/pools", `{}`, 405},                                                // method
		{"GET", "/nothing", ``, 404},                                                 // path
		{"GET", "/backends/nope", ``, 404},                                           // unknown
	} {
		code, m, h := do(t, tt.method, url+tt.path, "", tt.body)
		if code != tt.code || m["error"] == nil || m["error"] == "" {
			t.Errorf("%s %s %.60q: %d %v, want %d and an error", tt.method, tt.path, tt.body, code, m, tt.code)
		}
		if code == 405 && h.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tt.method, tt.path)
		}
	}
	if r.Routes().Load() != before {
		t.Fatal("a refused request changed the table")
	}
}

func TestAPIToken(t *testing.T) {
	_, url := apiServer(t, "s3cret")
	for _, tok := range []string{"", "wrong", "s3cre", "s3cret2"} {
		code, m, h := do(t, "POST", url+"/backends", tok, `{"id":"s1","addr":"10.0.0.1:80"}`)
		if code != 401 || h.Get("WWW-Authenticate") == "" || !strings.Contains(m["error"].(string), "token") {
			t.Fatalf("token %q: %d %v", tok, code, m)
		}
	}
	if code, _, _ := do(t, "GET", url+"/backends", "", ""); code != 401 {
		t.Fatalf("GET without a token: %d, want 401", code)
	}
	if code, _, _ := do(t, "POST", url+"/backends", "s3cret", `{"id":"s1","addr":"10.0.0.1:80"}`); code != 201 {
		t.Fatalf("right token: %d", code)
	}
	req, _ := http.NewRequest("GET", url+"/backends", nil)
	req.Header.Set("Authorization", "bearer s3cret") // the scheme is case-insensitive (RFC 9110 §11.1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestCheckExposure(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:9090", "[::1]:9090", "localhost:9090", "127.0.0.2:1"} {
		if err := CheckExposure(addr, ""); err != nil {
			t.Errorf("%s without a token: %v", addr, err)
		}
	}
	for _, addr := range []string{":9090", "0.0.0.0:9090", "[::]:9090", "10.0.0.1:9090", "proxy.internal:9090"} {
		if err := CheckExposure(addr, ""); !errors.Is(err, ErrExposed) {
			t.Errorf("%s without a token: %v, want ErrExposed", addr, err)
		}
		if err := CheckExposure(addr, "t"); err != nil {
			t.Errorf("%s with a token: %v", addr, err)
		}
	}
	if _, err := Listen("0.0.0.0:0", &Handler{}, nil); !errors.Is(err, ErrExposed) {
		t.Fatalf("Listen on every interface without a token: %v", err)
	}
}

// TestAdminServer runs the API through Listen and Serve, as pilb does.
func TestAdminServer(t *testing.T) {
	r, _ := newTestRegistry(t, Config{})
	a, err := Listen("127.0.0.1:0", &Handler{Registry: r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve() }()
	if code, _, _ := do(t, "POST", "http://"+a.Addr()+"/backends", "", `{"id":"s1","addr":"10.0.0.1:80"}`); code != 201 {
		t.Fatalf("register: %d", code)
	}
	ctx, cancel := contextTimeout(5 * time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
