package engine

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

// Defaults for the zero fields of Config.
const (
	DefaultConnectTimeout     = 2 * time.Second
	DefaultHeaderTimeout      = 10 * time.Second
	DefaultBackendTimeout     = 30 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultBackendIdleTimeout = 15 * time.Second
	DefaultHighWater          = 256 << 10
	// DefaultMaxIdlePerBackend is high on purpose: past it a connection
	// freed by a finished response is closed, and under more concurrent
	// requests than that the loop closes and re-dials connections all the
	// time (at 1024 clients and a cap of 256, 24 µs of CPU per request
	// instead of 12). Idle connections still go after BackendIdleTimeout.
	DefaultMaxIdlePerBackend = 4096
	DefaultLingerTimeout     = 2 * time.Second
	DefaultTunnelTimeout     = time.Hour
	DefaultParkAfter         = time.Second
)

// Config is everything the engine needs; cmd/pilb fills it from flags.
// A zero duration or size means its default; a negative one is an error.
type Config struct {
	// Addr is the listen address, host:port; ":8080" listens on all
	// addresses. Port 0 picks a free port (see Server.Addr).
	Addr string

	// Loops is the number of event loops; 0 means runtime.NumCPU().
	Loops int

	// Routes is where the control plane publishes the pools, their
	// balancers and the routes between them (pool.Table): each request
	// loads the current Table once at its head and is routed by Host and
	// path to a pool, whose balancer picks the backend (and the backend of
	// every retry of that request). When Routes is nil, Backends and
	// Balancer make a single default pool that follows Backends' changes.
	Routes *pool.Routes

	// Backends is the pool requests are balanced over when Routes is nil.
	// Backends may be added and removed while the engine runs.
	Backends *pool.Set

	// Balancer picks a backend per request when Routes is nil; nil means
	// round robin.
	Balancer pool.Balancer

	// ConnsPerBackend is how many keep-alive connections each loop dials
	// to each backend ahead of traffic, and keeps dialed; one while no
	// request used the backend for BackendIdleTimeout (its idle
	// connections expire then, and are not dialed again for nothing); 0
	// dials on demand only.
	ConnsPerBackend int

	// MaxIdlePerBackend bounds the idle keep-alive connections each loop
	// keeps per backend; 0 means DefaultMaxIdlePerBackend.
	MaxIdlePerBackend int

	// ConnectTimeout bounds a backend connect.
	ConnectTimeout time.Duration
	// HeaderTimeout is the time a client has to send a whole request head,
	// from its first byte (or from accept): past it, 408 and close.
	HeaderTimeout time.Duration
	// BackendTimeout is the time a backend has to start its response once
	// the whole request is handed to it, or to read more of a request body
	// it holds back (past either, 504); and the longest silence allowed
	// while a response body streams (past it, the client is cut off).
	BackendTimeout time.Duration
	// IdleTimeout is how long a keep-alive client may sit between requests,
	// the longest silence inside a request body (past it, 408), and the
	// longest a client may leave a waiting response unread (past it, the
	// connection is closed).
	IdleTimeout time.Duration
	// BackendIdleTimeout is how long an unused pooled backend connection is
	// kept; set it below the backends' own keep-alive timeout.
	BackendIdleTimeout time.Duration
	// TunnelTimeout closes a tunnel (a connection upgraded by a 101, such
	// as a WebSocket) that carried no byte either way for this long
	// (HAProxy's timeout tunnel). WebSocket pings keep a live one open.
	TunnelTimeout time.Duration
	// LingerTimeout bounds the lingering close: after PILB's last response
	// on a connection it stops sending and discards what the client still
	// sends, so that the client reads the response instead of a reset
	// (nginx's lingering_close). Lingering ends once the client has been
	// silent this long and has acknowledged the response (nginx's
	// lingering_timeout), and after IdleTimeout in any case.
	LingerTimeout time.Duration
	// ParkAfter is how long a keep-alive client sits idle before it is
	// parked: taken off gnet, which frees gnet's state for it, and watched
	// for its next request by the loop's own epoll set (park.go). Its next
	// request costs a re-registration, so parking waits for a pause that
	// makes that cost small. A value at or above IdleTimeout parks nothing.
	ParkAfter time.Duration

	// MaxHeaderBytes bounds a request head; 0 means
	// httpparse.DefaultMaxHeadBytes.
	MaxHeaderBytes int

	// MaxClientConns bounds the open client connections; past it a new
	// connection is closed as soon as it is accepted. 0 means half the
	// process's file descriptor limit, less fdReserve: each client may need
	// a backend connection too, and gnet stops the whole engine when
	// accept fails for want of a descriptor.
	MaxClientConns int

	// HighWater is how many bytes may wait in PILB for a slow peer before
	// PILB stops reading from the fast one, per direction of an exchange;
	// reading resumes below a quarter of it. 0 means DefaultHighWater.
	HighWater int

	// Proto is the value of X-Forwarded-Proto; "" means "http".
	Proto string

	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger

	// Operations: metrics, access log (ops.go). ops: embedded.
	Operations
}

// withDefaults returns c with zero fields filled in, or an error naming the
// first field that is out of range.
func (c Config) withDefaults() (Config, error) {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("%w: listen address %q: %v", ErrConfig, c.Addr, err)
	}
	if c.Routes == nil && c.Backends == nil {
		return c, fmt.Errorf("%w: no backend set", ErrConfig)
	}
	if c.Routes != nil && c.Routes.Load() == nil {
		return c, fmt.Errorf("%w: routes hold no table", ErrConfig)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"connect timeout", &c.ConnectTimeout, DefaultConnectTimeout},
		{"header timeout", &c.HeaderTimeout, DefaultHeaderTimeout},
		{"backend timeout", &c.BackendTimeout, DefaultBackendTimeout},
		{"idle timeout", &c.IdleTimeout, DefaultIdleTimeout},
		{"backend idle timeout", &c.BackendIdleTimeout, DefaultBackendIdleTimeout},
		{"linger timeout", &c.LingerTimeout, DefaultLingerTimeout},
		{"tunnel timeout", &c.TunnelTimeout, DefaultTunnelTimeout},
		{"park after", &c.ParkAfter, DefaultParkAfter},
	} {
		if *d.v < 0 {
			return c, fmt.Errorf("%w: %s %v is negative", ErrConfig, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for _, n := range []struct {
		name string
		v    *int
		def  int
	}{
		{"loops", &c.Loops, runtime.NumCPU()},
		{"max idle per backend", &c.MaxIdlePerBackend, DefaultMaxIdlePerBackend},
		{"max header bytes", &c.MaxHeaderBytes, httpparse.DefaultMaxHeadBytes},
		{"high water", &c.HighWater, DefaultHighWater},
	} {
		if *n.v < 0 {
			return c, fmt.Errorf("%w: %s %d is negative", ErrConfig, n.name, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	if c.MaxClientConns < 0 {
		return c, fmt.Errorf("%w: max client conns %d is negative", ErrConfig, c.MaxClientConns)
	}
	if c.MaxClientConns == 0 {
		c.MaxClientConns = defaultMaxClientConns()
	}
	if c.ConnsPerBackend < 0 {
		return c, fmt.Errorf("%w: conns per backend %d is negative", ErrConfig, c.ConnsPerBackend)
	}
	c.MaxIdlePerBackend = max(c.MaxIdlePerBackend, c.ConnsPerBackend)
	if c.Balancer == nil {
		c.Balancer = &pool.RoundRobin{}
	}
	if c.Routes == nil {
		c.Routes = pool.FollowSet(c.Backends, c.Balancer)
	}
	if c.Proto == "" {
		c.Proto = "http"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Operations.check(); err != nil { // ops: (ops.go)
		return c, err
	}
	return c, nil
}

// fdReserve is the file descriptors kept out of MaxClientConns's default
// for listeners, idle pooled backend connections, dials in progress (a
// dial holds two descriptors while it is enrolled), pauses and the rest of
// the process.
const fdReserve = 1024

// defaultMaxClientConns derives MaxClientConns from RLIMIT_NOFILE (which
// the Go runtime raises to the hard limit at start).
func defaultMaxClientConns() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY {
		return 1 << 20
	}
	n := int(min(rl.Cur, 1<<24))
	return max((n-fdReserve)/2, 64)
}
