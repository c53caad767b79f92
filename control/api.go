package control

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds a request body: a registration is a hundred bytes, so
// 64 KiB is generous for any client and small for any attacker.
const maxBody = 64 << 10

// Handler is the admin API over a Registry:
//
//	GET    /backends       every backend (200)
//	POST   /backends       register or refresh one (201 new, 200 refresh or move)
//	GET    /backends/{id}  one backend (200, 404)
//	DELETE /backends/{id}  drain and remove one (200, 404, 409)
//	GET    /pools          pools, balancer and routes (200)
//	GET    /healthz        whether PILB should receive traffic (200, 503; ops.go)
//	GET    /metrics        Prometheus metrics (ops.go)
//
// Bodies are JSON, errors {"error": "..."}. When Token is set every request
// but /healthz needs "Authorization: Bearer <Token>" (else 401).
type Handler struct {
	Registry *Registry
	// Token, when not empty, is the bearer token every request must carry.
	Token string
	// Logger receives refused requests at Warn (Listen sets it to its own
	// when nil); nil discards them.
	Logger *slog.Logger
	// Health answers /healthz; nil leaves it unserved (404).
	Health HealthFunc
	// Metrics answers /metrics; nil leaves it unserved (404).
	Metrics http.Handler
}

// registration is the body of POST /backends.
type registration struct {
	ID     string          `json:"id"`
	Pool   string          `json:"pool"`
	Addr   string          `json:"addr"`
	Weight *int            `json:"weight"`
	TTL    json.RawMessage `json:"ttl"` // "30s", or a number of seconds
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.serveHealth(w, req) {
		return
	}
	if h.Token != "" && !h.authorized(req) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pilb"`)
		h.fail(w, req, http.StatusUnauthorized, ErrUnauthorized)
		return
	}
	if h.serveMetrics(w, req) {
		return
	}
	path := req.URL.Path
	switch {
	case path == "/backends":
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, h.Registry.Backends())
		case http.MethodPost:
			h.register(w, req)
		default:
			h.notAllowed(w, req, "GET, HEAD, POST")
		}
	case strings.HasPrefix(path, "/backends/"):
		id := strings.TrimPrefix(path, "/backends/")
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			st, ok := h.Registry.Backend(id)
			if !ok {
				h.fail(w, req, http.StatusNotFound, fmt.Errorf("%w: %q", ErrNotFound, id))
				return
			}
			writeJSON(w, http.StatusOK, st)
		case http.MethodDelete:
			st, err := h.Registry.Deregister(id)
			if err != nil {
				h.fail(w, req, statusOf(err), err)
				return
			}
			writeJSON(w, http.StatusOK, st)
		default:
			h.notAllowed(w, req, "GET, HEAD, DELETE")
		}
	case path == "/pools":
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			h.notAllowed(w, req, "GET, HEAD")
			return
		}
		writeJSON(w, http.StatusOK, h.Registry.Pools())
	default:
		h.fail(w, req, http.StatusNotFound, fmt.Errorf("%w: no endpoint %s (see /backends, /pools)", ErrNotFound, path))
	}
}

// register handles POST /backends.
func (h *Handler) register(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, req, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body over %d bytes", ErrInvalid, maxBody))
			return
		}
		h.fail(w, req, http.StatusBadRequest, fmt.Errorf("%w: reading the body: %v", ErrInvalid, err))
		return
	}
	var reg registration
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		h.fail(w, req, http.StatusBadRequest, fmt.Errorf("%w: body: %v", ErrInvalid, err))
		return
	}
	if dec.More() {
		h.fail(w, req, http.StatusBadRequest, fmt.Errorf("%w: body: one JSON object, nothing after it", ErrInvalid))
		return
	}
	ttl, err := parseTTL(reg.TTL)
	if err != nil {
		h.fail(w, req, http.StatusBadRequest, err)
		return
	}
	s := Spec{ID: reg.ID, Pool: reg.Pool, Addr: reg.Addr}
	if reg.Weight != nil {
		if *reg.Weight == 0 {
			h.fail(w, req, http.StatusBadRequest, fmt.Errorf("%w: weight 0: to stop traffic to a backend, DELETE it", ErrInvalid))
			return
		}
		s.Weight = *reg.Weight
	}
	if s.Addr, err = fillHost(reg.Addr, req.RemoteAddr); err != nil {
		h.fail(w, req, http.StatusBadRequest, err)
		return
	}
	st, created, err := h.Registry.Register(s, ttl)
	if err != nil {
		h.fail(w, req, statusOf(err), err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, st)
}

// parseTTL reads a ttl given as a Go duration string or a number of
// seconds; absent or null is 0 (no expiry).
func parseTTL(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		// A ttl under a nanosecond ("0.1ns") parses as 0, which would be
		// a registration that never expires: refuse it as too short.
		if err != nil || d == 0 && strings.ContainsAny(s, "123456789") {
			return 0, fmt.Errorf("%w: ttl %q: want a duration such as \"30s\"", ErrInvalid, s)
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > MaxTTL.Seconds() {
		return 0, fmt.Errorf("%w: ttl %s: want a duration such as \"30s\" or seconds up to %v", ErrInvalid, raw, MaxTTL)
	}
	d := time.Duration(secs * float64(time.Second))
	if d == 0 && secs != 0 { // 1e-10: not "no expiry", but too short
		return 0, fmt.Errorf("%w: ttl %s: want 0 (none) or %v to %v", ErrInvalid, raw, MinTTL, MaxTTL)
	}
	return d, nil
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first so that the comparison does not reveal the token's length
// either.
func (h *Handler) authorized(req *http.Request) bool {
	auth := req.Header.Get("Authorization")
	const scheme = "bearer "
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(scheme):])))
	want := sha256.Sum256([]byte(h.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (h *Handler) notAllowed(w http.ResponseWriter, req *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	h.fail(w, req, http.StatusMethodNotAllowed, fmt.Errorf("%w: %s %s: allowed: %s", ErrInvalid, req.Method, req.URL.Path, allow))
}

// fail answers {"error": ...} and logs refused mutations and auth failures.
func (h *Handler) fail(w http.ResponseWriter, req *http.Request, code int, err error) {
	if h.Logger != nil && (code == http.StatusUnauthorized || req.Method != http.MethodGet) {
		h.Logger.Warn("admin request refused", "method", req.Method,
			"path", req.URL.Path, "from", req.RemoteAddr, "status", code, "err", err)
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// statusOf maps the registry's errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
