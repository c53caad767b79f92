package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/internal/demobackend"
	"github.com/pilb-proxy/pilb/pool"
)

// startDemo starts o.demo demo backends s1..sN on loopback and adds them to
// the registry's default pool; stop stops them.
func startDemo(o options, reg *control.Registry, log *slog.Logger) (stop func(), err error) {
	var servers []*demobackend.Server
	var specs []control.Spec
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Stop(ctx)
		}
	}
	for i := 1; i <= o.demo; i++ {
		id := fmt.Sprintf("s%d", i)
		s, err := demobackend.Start(demobackend.Config{ID: id, Addr: "127.0.0.1:0", Logger: log})
		if err != nil {
			stop()
			return nil, fmt.Errorf("-demo: backend %s: %v", id, err)
		}
		servers = append(servers, s)
		specs = append(specs, control.Spec{ID: id, Addr: s.Addr()})
		log.Info("demo backend", "id", id, "addr", s.Addr())
	}
	if err := reg.Replace("-demo", control.SourceDemo, specs); err != nil {
		stop()
		return nil, err
	}
	if o.admin != "" {
		log.Info("admin API: see the backends with curl http://" + o.admin + "/backends")
	}
	return stop, nil
}

// probe returns the health probe the options ask for: an HTTP GET of
// -health-path, or a TCP connect.
func probe(o options) func(context.Context, *pool.Backend) error {
	if o.healthPath == "" {
		return pool.TCPProbe(o.connectTimeout)
	}
	client := &http.Client{
		Timeout:       o.connectTimeout + o.backendTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, b *pool.Backend) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.Addr+o.healthPath, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("health check %s: status %d", o.healthPath, resp.StatusCode)
		}
		return nil
	}
}
