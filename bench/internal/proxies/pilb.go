package proxies

import (
	"context"
	"strconv"
	"strings"
)

// Pilb runs the pilb binary at Bin.
type Pilb struct {
	Bin string
	p   *process
}

var _ Proxy = (*Pilb)(nil)

func (x *Pilb) Name() string { return "pilb" }

func (x *Pilb) Start(ctx context.Context, cfg Config) error {
	p, err := startProcess("pilb", cfg.Dir, cfg.CPUs, x.Bin,
		"-listen", cfg.Listen,
		"-backends", strings.Join(cfg.Backends, ","),
		"-loops", strconv.Itoa(cfg.Loops),
		"-conns-per-backend", strconv.Itoa(cfg.ConnsPerBackend),
		"-log-level", "warn")
	if err != nil {
		return err
	}
	x.p = p
	if err := p.waitReady(ctx, "http://"+cfg.Listen+"/"); err != nil {
		_ = p.stop()
		x.p = nil
		return err
	}
	return nil
}

func (x *Pilb) PIDs() []int { return []int{x.p.pid()} }

func (x *Pilb) Stop() error {
	err := x.p.stop()
	x.p = nil
	return err
}
