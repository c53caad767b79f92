package demobackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pilb-proxy/pilb/internal/gnetlog"
)

// startTimeout bounds how long Start waits for the engine to boot: binding
// a loopback port takes microseconds, so even on a loaded test machine ten
// seconds is a hang, not a slow box.
const startTimeout = 10 * time.Second

// Config configures one backend.
type Config struct {
	// ID names the backend in the "Server: <ID>" field of every response,
	// e.g. "s1". Empty is ErrNoID.
	ID string
	// Addr is the TCP listen address; "127.0.0.1:0" picks a free port,
	// which Server.Addr then reports.
	Addr string
	// Loops is the number of gnet event loops; 0 or negative means 1.
	Loops int
	// Body is the body of "/" and of every path that is not another route;
	// nil means "hello from <ID>\n". At most MaxBody bytes.
	Body []byte
	// Logger receives lifecycle and gnet messages, never per-request
	// ones; nil discards them.
	Logger *slog.Logger
}

// Server is a running backend. Its methods are safe for concurrent use.
type Server struct {
	id       string
	addr     string
	log      *slog.Logger
	h        *handler
	eng      gnet.Engine
	requests atomic.Uint64

	booted   chan struct{}
	done     chan struct{} // closed when gnet.Run has returned
	runErr   error         // gnet.Run's result, read after done
	bootErr  error         // set by OnBoot before booted is closed
	stopOnce sync.Once
}

// Start starts a backend and returns once it is listening.
func Start(cfg Config) (*Server, error) {
	if cfg.ID == "" {
		return nil, ErrNoID
	}
	if len(cfg.Body) > MaxBody {
		return nil, ErrBodyConfigTooLarge
	}
	body := cfg.Body
	if body == nil {
		body = []byte("hello from " + cfg.ID + "\n")
	}
	loops := max(cfg.Loops, 1)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "demobackend", "id", cfg.ID)

	s := &Server{
		id:     cfg.ID,
		log:    log,
		booted: make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.h = newHandler(s, newHeads(cfg.ID, body))

	protoAddr := cfg.Addr
	if !strings.Contains(protoAddr, "://") {
		protoAddr = "tcp://" + protoAddr
	}
	go func() {
		defer close(s.done)
		s.runErr = gnet.Run(s.h, protoAddr,
			gnet.WithNumEventLoop(loops),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetlog.New(log)),
		)
	}()

	select {
	case <-s.booted:
		if s.bootErr != nil {
			_ = s.Stop(context.Background())
			return nil, s.bootErr
		}
	case <-s.done:
		if s.runErr == nil {
			s.runErr = errors.New("engine stopped during start")
		}
		return nil, fmt.Errorf("demobackend: listen %s: %w", cfg.Addr, s.runErr)
	case <-time.After(startTimeout):
		// Do not leave the engine behind: stop it if it boots after all.
		go func() {
			select {
			case <-s.booted:
				_ = s.Stop(context.Background())
			case <-s.done:
			}
		}()
		return nil, ErrStartTimeout
	}
	log.Info("backend listening", "addr", s.addr, "loops", loops)
	return s, nil
}

// Addr returns the host:port the server listens on, with the port resolved
// when Config.Addr asked for port 0.
func (s *Server) Addr() string { return s.addr }

// ID returns Config.ID.
func (s *Server) ID() string { return s.id }

// Requests returns how many responses the server has sent, error responses
// included.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Conns returns the open client connections: a backend that deregistered
// from a proxy waits for the proxy's pooled connections to go (it closes
// them once its in-flight requests are answered) before it stops.
func (s *Server) Conns() int { return s.eng.CountConnections() }

// Stop closes the listener and every connection, and returns when the
// event loops have exited or ctx is done. Calling it again is harmless.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		// Engine.Stop polls for the end every 500 ms; waiting on Run's
		// return instead makes Stop take milliseconds.
		go func() { _ = s.eng.Stop(context.Background()) }()
	})
	select {
	case <-s.done:
		s.log.Info("backend stopped")
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onBoot records the engine and resolves the port the kernel picked.
func (s *Server) onBoot(eng gnet.Engine) gnet.Action {
	defer close(s.booted)
	s.eng = eng
	addr, err := listenAddr(eng)
	if err != nil {
		s.bootErr = fmt.Errorf("demobackend: resolve listen address: %w", err)
		return gnet.None // Start calls Stop
	}
	s.addr = addr
	return gnet.None
}

// listenAddr asks the kernel for the listener's address through a
// duplicate of its descriptor: gnet does not expose the bound port.
func listenAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("unexpected socket address %T", sa)
}
