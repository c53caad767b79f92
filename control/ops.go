package control

import (
	"encoding/json"
	"net/http"
)

// The operations endpoints of the admin API:
//
//	GET /healthz   200 {"status":"ok"} while PILB should receive traffic,
//	               503 {"status":"draining"} or {"status":"no available backend"}
//	GET /metrics   Prometheus text exposition
//
// /healthz needs no token: a load balancer's health check cannot send one,
// and it says nothing but the verdict. /metrics needs the token like the
// rest of the API (Prometheus sends it: authorization.credentials in a
// scrape config).

// HealthFunc reports whether PILB should receive traffic, and why not.
type HealthFunc func() (ok bool, reason string)

// health is the body of /healthz.
type health struct {
	Status string `json:"status"`
}

// serveHealth answers /healthz; it reports false for any other path.
func (h *Handler) serveHealth(w http.ResponseWriter, req *http.Request) bool {
	if req.URL.Path != "/healthz" || h.Health == nil {
		return false
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.notAllowed(w, req, "GET, HEAD")
		return true
	}
	ok, reason := h.Health()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(health{Status: reason})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if req.Method == http.MethodGet {
		_, _ = w.Write(append(b, '\n'))
	}
	return true
}

// serveMetrics answers /metrics; it reports false for any other path.
func (h *Handler) serveMetrics(w http.ResponseWriter, req *http.Request) bool {
	if req.URL.Path != "/metrics" || h.Metrics == nil {
		return false
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.notAllowed(w, req, "GET, HEAD")
		return true
	}
	h.Metrics.ServeHTTP(w, req)
	return true
}
