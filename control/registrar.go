package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Registrar timing.
const (
	// DefaultReregister is how often a registration without a ttl is sent
	// again: it never expires, but a proxy that restarted has forgotten it.
	DefaultReregister = 30 * time.Second

	// minBackoff and maxBackoff bound the wait between failed attempts,
	// doubling from the first to the second (and never past the refresh
	// interval, so a ttl cannot run out while the proxy is back).
	minBackoff = 250 * time.Millisecond
	maxBackoff = 10 * time.Second

	// requestTimeout bounds one call to the admin API.
	requestTimeout = 5 * time.Second

	// maxAnswer bounds how much of the proxy's answer is read.
	maxAnswer = 64 << 10
)

// Registrar keeps one backend registered with a proxy's admin API: it
// registers at once, refreshes at a third of the ttl (a heartbeat), retries
// with back-off while the proxy is down or refuses, and deregisters on
// request. It is the original project's server announcing itself, done
// with expiry and retries.
type Registrar struct {
	// URL is the admin API's base, such as "http://10.0.1.2:9090".
	URL string
	// Token is the bearer token, when the proxy has one.
	Token string
	// Spec is what to register. Addr may be ":port", or have an
	// unspecified host: the proxy then takes the host the registration
	// comes from.
	Spec Spec
	// TTL is the registration's ttl; 0 registers without expiry.
	TTL time.Duration
	// Client makes the calls; nil means a client with requestTimeout.
	Client *http.Client
	// Logger receives a record on the first success, on each failure
	// and on each recovery; nil discards them.
	Logger *slog.Logger
}

// CheckURL reports whether u can be a Registrar's URL: http or https with
// a host and no query.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
		return fmt.Errorf("%w: %q: want the admin API's base URL, such as http://proxy:9090", ErrInvalid, u)
	}
	return nil
}

// interval returns the time between refreshes.
func (g *Registrar) interval() time.Duration {
	if g.TTL > 0 {
		return g.TTL / 3
	}
	return DefaultReregister
}

// Run keeps the registration until ctx is done, then returns nil; it does
// not deregister (call Deregister for that, with a context of its own).
func (g *Registrar) Run(ctx context.Context) error {
	log := g.logger()
	every := g.interval()
	backoff := minBackoff
	failing, registered := false, false
	for {
		st, err := g.register(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := every
		switch {
		case err != nil:
			if !failing {
				log.Warn("registration failed, retrying", "url", g.URL, "id", g.Spec.ID, "err", err)
			} else {
				log.Debug("registration failed again", "err", err, "retry_in", backoff)
			}
			failing = true
			wait = jitter(backoff)
			backoff = min(backoff*2, maxBackoff, every)
		case failing || !registered:
			log.Info("registered", "url", g.URL, "id", st.ID, "pool", st.Pool, "addr", st.Addr, "ttl", g.TTL, "refresh", every)
			failing, registered = false, true
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// jitter spreads d by ±20%, so that backends restarted together do not
// knock on the proxy in step.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + rand.N(2*d/5+1)
}

// register sends one registration and returns the proxy's view of it.
func (g *Registrar) register(ctx context.Context) (Status, error) {
	body := map[string]any{"id": g.Spec.ID, "addr": g.Spec.Addr}
	if g.Spec.Pool != "" {
		body["pool"] = g.Spec.Pool
	}
	if g.Spec.Weight != 0 {
		body["weight"] = g.Spec.Weight
	}
	if g.TTL > 0 {
		body["ttl"] = g.TTL.String()
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Status{}, err
	}
	var st Status
	code, err := g.call(ctx, http.MethodPost, "/backends", b, &st)
	if err != nil {
		return Status{}, err
	}
	if code != http.StatusOK && code != http.StatusCreated {
		return Status{}, fmt.Errorf("%w: status %d", ErrRegister, code)
	}
	return st, nil
}

// Deregister removes the registration (DELETE /backends/{id}), so the
// proxy drains the backend. A registration the proxy no longer has is not
// an error.
func (g *Registrar) Deregister(ctx context.Context) error {
	code, err := g.call(ctx, http.MethodDelete, "/backends/"+url.PathEscape(g.Spec.ID), nil, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK && code != http.StatusNotFound {
		return fmt.Errorf("%w: deregister: status %d", ErrRegister, code)
	}
	g.logger().Info("deregistered", "url", g.URL, "id", g.Spec.ID)
	return nil
}

// call makes one request and decodes a 2xx answer into out. An error
// answer comes back as an error carrying the proxy's message.
func (g *Registrar) call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(g.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: requestTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusNotFound && method == http.MethodDelete {
		return resp.StatusCode, nil // gone already: expired, or the proxy restarted
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("%w: %s: %s", ErrRegister, resp.Status, e.Error)
		}
		return resp.StatusCode, fmt.Errorf("%w: %s", ErrRegister, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%w: answer: %v", ErrRegister, err)
		}
	}
	return resp.StatusCode, nil
}

func (g *Registrar) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger.With("component", "registrar")
}
