package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// DefaultAdminAddr is where the admin API listens unless told otherwise:
// loopback only, so that with no token nothing off the host can reach it.
const DefaultAdminAddr = "127.0.0.1:9090"

// Admin server limits. A registration is one small request; these bound
// what a slow or hostile client can hold (net/http has no default).
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 10 * time.Second
	adminWriteTimeout      = 10 * time.Second
	adminIdleTimeout       = 60 * time.Second
	adminMaxHeaderBytes    = 16 << 10
)

// Admin is the admin API's HTTP server, on its own listener and
// goroutines, never on the proxy's event loops.
type Admin struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// Listen checks addr against token and binds it: an address that is not
// loopback (an empty host listens on every interface) needs a token, or
// Listen returns ErrExposed without binding.
func Listen(addr string, h *Handler, log *slog.Logger) (*Admin, error) {
	if err := CheckExposure(addr, h.Token); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewAdmin(ln, h, log), nil
}

// NewAdmin returns the admin API on a listener the caller opened (one a
// restarted pilb inherited from its predecessor); the exposure check is
// the caller's.
func NewAdmin(ln net.Listener, h *Handler, log *slog.Logger) *Admin {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "admin")
	if h.Logger == nil {
		h.Logger = log
	}
	return &Admin{
		ln:  ln,
		log: log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: adminReadHeaderTimeout,
			ReadTimeout:       adminReadTimeout,
			WriteTimeout:      adminWriteTimeout,
			IdleTimeout:       adminIdleTimeout,
			MaxHeaderBytes:    adminMaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
}

// CheckExposure returns ErrExposed when addr is not a loopback address and
// token is empty. "localhost" counts as loopback; any other name does not.
func CheckExposure(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: want host:port", ErrInvalid, addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q is reachable from other hosts; set PILB_ADMIN_TOKEN (or -admin-token), or listen on 127.0.0.1", ErrExposed, addr)
}

// Addr returns the address the API listens on, with the port resolved.
func (a *Admin) Addr() string { return a.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after Shutdown.
func (a *Admin) Serve() error {
	a.log.Info("admin API listening", "addr", a.Addr())
	err := a.srv.Serve(a.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in progress, at most
// until ctx ends.
func (a *Admin) Shutdown(ctx context.Context) error { return a.srv.Shutdown(ctx) }
