package proxies

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// Backends is a fleet of pilb-backend processes on loopback.
type Backends struct {
	Addrs []string
	procs []*process
}

// StartBackends starts n pilb-backend processes from bin, pinned to cpus,
// each with loops event loops, on free loopback ports.
func StartBackends(ctx context.Context, bin, dir, cpus string, n, loops int) (*Backends, error) {
	b := &Backends{}
	for i := range n {
		port, err := FreePort()
		if err != nil {
			b.Stop()
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		id := fmt.Sprintf("s%d", i+1)
		p, err := startProcess("backend-"+id, dir, cpus, bin, "-listen", addr, "-id", id,
			"-loops", strconv.Itoa(loops), "-log-level", "warn")
		if err != nil {
			b.Stop()
			return nil, err
		}
		b.procs = append(b.procs, p)
		if err := p.waitReady(ctx, "http://"+addr+"/"); err != nil {
			b.Stop()
			return nil, err
		}
		b.Addrs = append(b.Addrs, addr)
	}
	return b, nil
}

// Stop stops every backend.
func (b *Backends) Stop() {
	for _, p := range b.procs {
		_ = p.stop()
	}
	b.procs = nil
}
