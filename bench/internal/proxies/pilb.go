package proxies

import (
	"context"
	"strconv"
	"strings"
)

// Pilb runs the pilb binary at Bin.
type Pilb struct {
	Bin string
	running
}

var _ Proxy = (*Pilb)(nil)

func (x *Pilb) Name() string { return "pilb" }

func (x *Pilb) Start(ctx context.Context, cfg Config) error {
	args := []string{x.Bin,
		"-listen", cfg.Listen,
		"-backends", strings.Join(cfg.Backends, ","),
		"-loops", strconv.Itoa(cfg.Loops),
		"-conns-per-backend", strconv.Itoa(cfg.ConnsPerBackend),
		"-max-conns", strconv.Itoa(cfg.Clients()),
		"-admin", "", // the ladder runs proxies one at a time, but 127.0.0.1:9090 may be taken
		"-log-level", "warn"}
	if cfg.HeaderTimeout > 0 {
		args = append(args, "-header-timeout", cfg.HeaderTimeout.String())
	}
	return x.launch(ctx, "pilb", cfg, false, args...)
}
