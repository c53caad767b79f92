package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pilb-proxy/pilb/engine"
	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

// maxDemo bounds -demo: the demo backends share this host with the proxy.
const maxDemo = 64

// options is the parsed command line.
type options struct {
	listen             string
	backends           []string
	demo               int
	loops              int
	connsPerBackend    int
	maxConnsPerBackend int
	maxIdlePerBackend  int
	balance            string
	connectTimeout     time.Duration
	headerTimeout      time.Duration
	backendTimeout     time.Duration
	idleTimeout        time.Duration
	backendIdleTimeout time.Duration
	drainTimeout       time.Duration
	tunnelTimeout      time.Duration
	healthInterval     time.Duration
	healthPath         string
	maxHeaderBytes     int
	maxConns           int
	highWater          int
	logLevel           slog.Level
}

// parseFlags parses args; errors name the flag and say why. -h prints the
// flags to help and returns flag.ErrHelp.
func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	var backends string
	var port int
	fs := flag.NewFlagSet("pilb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", ":8080", "listen `address`, host:port")
	fs.IntVar(&port, "port", 0, "listen on :`PORT` (the same as -listen :PORT)")
	fs.StringVar(&backends, "backends", "", "comma-separated backend `addresses`, host:port each")
	fs.IntVar(&o.demo, "demo", 0, "start `N` built-in demo backends on loopback and balance over them")
	fs.IntVar(&o.loops, "loops", runtime.NumCPU(), "number of event `loops` (one per core)")
	fs.IntVar(&o.connsPerBackend, "conns-per-backend", 4, "keep-alive `connections` pre-dialed per backend per loop")
	fs.IntVar(&o.maxConnsPerBackend, "max-conns-per-backend", 0, "most `requests` in flight per backend, all loops together; 0 means no limit")
	fs.IntVar(&o.maxIdlePerBackend, "max-idle-per-backend", engine.DefaultMaxIdlePerBackend, "most idle keep-alive `connections` kept per backend per loop")
	fs.StringVar(&o.balance, "balance", "roundrobin", "balancing `algorithm`: roundrobin or leastconn")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", engine.DefaultConnectTimeout, "backend connect `timeout`")
	fs.DurationVar(&o.headerTimeout, "header-timeout", engine.DefaultHeaderTimeout, "`time` a client has to send a whole request head (then 408)")
	fs.DurationVar(&o.backendTimeout, "backend-timeout", engine.DefaultBackendTimeout, "`time` a backend has to start its response once it has the request (then 504)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", engine.DefaultIdleTimeout, "`time` a client may stay silent between requests or inside a body, or leave a response unread")
	fs.DurationVar(&o.backendIdleTimeout, "backend-idle-timeout", engine.DefaultBackendIdleTimeout, "`time` an idle pooled backend connection is kept (keep it below the backends' keep-alive timeout)")
	fs.DurationVar(&o.tunnelTimeout, "tunnel-timeout", engine.DefaultTunnelTimeout, "`time` an upgraded connection (WebSocket) may carry nothing either way")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM/SIGINT, the longest `time` to let requests in flight finish")
	fs.DurationVar(&o.healthInterval, "health-interval", 2*time.Second, "active health check `interval`; 0 disables the checks")
	fs.StringVar(&o.healthPath, "health-path", "", "HTTP `path` to GET for health checks (2xx/3xx is up); empty checks with a TCP connect")
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", httpparse.DefaultMaxHeadBytes, "largest request head in `bytes` (then 431)")
	fs.IntVar(&o.maxConns, "max-conns", 0, "most open client `connections`; 0 = half the file descriptor limit less a reserve")
	fs.IntVar(&o.highWater, "high-water", engine.DefaultHighWater, "`bytes` held for a slow peer before PILB stops reading the fast one")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(help)
			fmt.Fprintln(help, "Usage: pilb [flags]\n\nFlags (durations like 500ms, 2s, 1m):")
			fs.PrintDefaults()
			return o, err
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if set["port"] {
		if set["listen"] {
			return o, errors.New("-port and -listen both given: use one")
		}
		if port < 1 || port > 65535 {
			return o, fmt.Errorf("-port %d: not a port number (1-65535)", port)
		}
		o.listen = ":" + strconv.Itoa(port)
	}
	if err := checkHostPort(o.listen, true); err != nil {
		return o, fmt.Errorf("-listen %q: %v", o.listen, err)
	}
	if backends != "" {
		for _, a := range strings.Split(backends, ",") {
			a = strings.TrimSpace(a)
			if err := checkHostPort(a, false); err != nil {
				return o, fmt.Errorf("-backends: %q: %v", a, err)
			}
			o.backends = append(o.backends, a)
		}
	}
	switch {
	case o.demo < 0 || o.demo > maxDemo:
		return o, fmt.Errorf("-demo %d: want 1 to %d backends", o.demo, maxDemo)
	case o.demo > 0 && len(o.backends) > 0:
		return o, errors.New("-demo and -backends both given: use one")
	case o.demo == 0 && len(o.backends) == 0:
		return o, errors.New("-backends: no backend given (or use -demo N for built-in demo backends)")
	}
	for name, v := range map[string]time.Duration{
		"connect-timeout": o.connectTimeout, "header-timeout": o.headerTimeout,
		"backend-timeout": o.backendTimeout, "idle-timeout": o.idleTimeout,
		"backend-idle-timeout": o.backendIdleTimeout, "drain-timeout": o.drainTimeout,
		"tunnel-timeout": o.tunnelTimeout,
	} {
		if v <= 0 {
			return o, fmt.Errorf("-%s %v: must be positive", name, v)
		}
	}
	if o.healthInterval < 0 {
		return o, fmt.Errorf("-health-interval %v: must not be negative (0 disables)", o.healthInterval)
	}
	if o.healthPath != "" && !strings.HasPrefix(o.healthPath, "/") {
		return o, fmt.Errorf("-health-path %q: must start with /", o.healthPath)
	}
	for name, v := range map[string]int{
		"loops": o.loops, "max-header-bytes": o.maxHeaderBytes, "high-water": o.highWater,
	} {
		if v <= 0 {
			return o, fmt.Errorf("-%s %d: must be positive", name, v)
		}
	}
	for name, v := range map[string]int{
		"conns-per-backend": o.connsPerBackend, "max-conns-per-backend": o.maxConnsPerBackend, "max-conns": o.maxConns,
		"max-idle-per-backend": o.maxIdlePerBackend,
	} {
		if v < 0 {
			return o, fmt.Errorf("-%s %d: must not be negative", name, v)
		}
	}
	if o.maxHeaderBytes < 1024 {
		return o, fmt.Errorf("-max-header-bytes %d: below 1024 no browser request fits", o.maxHeaderBytes)
	}
	if o.balance != "roundrobin" && o.balance != "leastconn" {
		return o, fmt.Errorf("-balance %q: want roundrobin or leastconn", o.balance)
	}
	return o, nil
}

// checkHostPort checks a host:port; the host may be empty only for a
// listen address (all interfaces).
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" && !listen {
		return errors.New("missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// engineConfig maps the options onto the engine's Config.
func (o options) engineConfig(set *pool.Set, log *slog.Logger) engine.Config {
	var bal pool.Balancer = &pool.RoundRobin{}
	if o.balance == "leastconn" {
		bal = &pool.LeastConn{}
	}
	return engine.Config{
		Addr:               o.listen,
		Loops:              o.loops,
		Backends:           set,
		Balancer:           bal,
		ConnsPerBackend:    o.connsPerBackend,
		MaxIdlePerBackend:  o.maxIdlePerBackend,
		ConnectTimeout:     o.connectTimeout,
		HeaderTimeout:      o.headerTimeout,
		BackendTimeout:     o.backendTimeout,
		IdleTimeout:        o.idleTimeout,
		BackendIdleTimeout: o.backendIdleTimeout,
		TunnelTimeout:      o.tunnelTimeout,
		MaxHeaderBytes:     o.maxHeaderBytes,
		MaxClientConns:     o.maxConns,
		HighWater:          o.highWater,
		Logger:             log,
	}
}
