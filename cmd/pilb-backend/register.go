package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Registration backoff: the control plane may start after its backends.
const (
	registerFirstDelay = 200 * time.Millisecond
	registerMaxDelay   = 10 * time.Second
	registerTimeout    = 5 * time.Second // per HTTP call
)

// registration announces this backend to a control plane. The API it
// assumes (the control plane does not exist yet):
//
//	POST   <base>/backends       {"id":"s1","pool":"default","addr":"127.0.0.1:5000"}  -> 2xx
//	DELETE <base>/backends/<id>                                                      -> 2xx or 404
type registration struct {
	base, id, pool, addr string
	log                  *slog.Logger
	done                 atomic.Bool // the POST succeeded
}

// announce POSTs the registration until it succeeds or ctx ends, with
// exponential backoff.
func (r *registration) announce(ctx context.Context) {
	body, _ := json.Marshal(map[string]string{"id": r.id, "pool": r.pool, "addr": r.addr})
	endpoint := strings.TrimSuffix(r.base, "/") + "/backends"
	delay := registerFirstDelay
	for attempt := 1; ; attempt++ {
		err := r.call(ctx, http.MethodPost, endpoint, body)
		if err == nil {
			r.done.Store(true)
			r.log.Info("registered", "url", endpoint, "pool", r.pool, "addr", r.addr)
			return
		}
		r.log.Warn("register failed; retrying", "url", endpoint, "attempt", attempt, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, registerMaxDelay)
	}
}

// withdraw DELETEs the registration once, if it was made.
func (r *registration) withdraw(ctx context.Context) {
	if !r.done.Load() {
		return
	}
	endpoint := strings.TrimSuffix(r.base, "/") + "/backends/" + url.PathEscape(r.id)
	if err := r.call(ctx, http.MethodDelete, endpoint, nil); err != nil {
		r.log.Warn("deregister failed", "url", endpoint, "err", err)
	}
}

func (r *registration) call(ctx context.Context, method, endpoint string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && !(method == http.MethodDelete && resp.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%s %s: %s", method, endpoint, resp.Status)
	}
	return nil
}
