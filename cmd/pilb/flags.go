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

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/discovery"
	"github.com/pilb-proxy/pilb/engine"
	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

// maxDemo bounds -demo: the demo backends share this host with the proxy.
const maxDemo = 64

// tokenEnv is the environment variable that holds the admin token: safer
// than -admin-token, which other users of the host see in ps.
const tokenEnv = "PILB_ADMIN_TOKEN"

// options is the parsed command line.
type options struct {
	listen             string
	backends           []control.Spec     // -backends addresses, ids b1, b2, ...
	backendNames       []discovery.Target // -backends host names, resolved at start and every -dns-interval
	backendsDNS        []discovery.Target // -backends-dns
	routes             []pool.Route
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
	parkAfter          time.Duration
	healthInterval     time.Duration
	healthTimeout      time.Duration
	healthRise         int
	healthFall         int
	healthPath         string
	dnsInterval        time.Duration
	dnsServer          string
	admin              string
	adminToken         string
	maxHeaderBytes     int
	maxConns           int
	highWater          int
	logLevel           slog.Level

	opsOptions // logs, metrics, health, restart (ops.go)
}

// parseFlags parses args (and PILB_ADMIN_TOKEN from env); errors name the
// flag and say why. -h prints the flags to help and returns flag.ErrHelp.
func parseFlags(args []string, env func(string) string, help io.Writer) (options, error) {
	var o options
	var port int
	var flagErr error // the first bad value of a repeatable flag, with its flag's name
	fs := newFlagSet(&o, &port, &flagErr)

	if err := fs.Parse(args); err != nil {
		if flagErr != nil {
			return o, flagErr
		}
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
	if o.version {
		return o, nil // nothing else matters
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
	if !set["admin-token"] {
		o.adminToken = env(tokenEnv)
	}
	if o.admin != "" {
		if err := checkHostPort(o.admin, true); err != nil {
			return o, fmt.Errorf("-admin %q: %v", o.admin, err)
		}
		if err := control.CheckExposure(o.admin, o.adminToken); err != nil {
			return o, fmt.Errorf("-admin %q: refused: other hosts could reach it and there is no token; set %s (or -admin-token), or listen on 127.0.0.1", o.admin, tokenEnv)
		}
	}
	anyBackend := len(o.backends) > 0 || len(o.backendNames) > 0 || len(o.backendsDNS) > 0
	switch {
	case o.demo < 0 || o.demo > maxDemo:
		return o, fmt.Errorf("-demo %d: want 1 to %d backends", o.demo, maxDemo)
	case o.demo > 0 && anyBackend:
		return o, errors.New("-demo and -backends both given: use one")
	case o.demo == 0 && !anyBackend && o.admin == "":
		return o, errors.New("-backends: no backend given and -admin \"\" leaves no way to add one (or use -demo N for built-in demo backends)")
	}
	for name, v := range map[string]time.Duration{
		"connect-timeout": o.connectTimeout, "header-timeout": o.headerTimeout,
		"backend-timeout": o.backendTimeout, "idle-timeout": o.idleTimeout,
		"backend-idle-timeout": o.backendIdleTimeout, "drain-timeout": o.drainTimeout,
		"tunnel-timeout": o.tunnelTimeout, "health-timeout": o.healthTimeout,
		"park-after": o.parkAfter,
	} {
		if v <= 0 {
			return o, fmt.Errorf("-%s %v: must be positive", name, v)
		}
	}
	if o.healthInterval < 0 {
		return o, fmt.Errorf("-health-interval %v: must not be negative (0 disables)", o.healthInterval)
	}
	if o.dnsInterval < 100*time.Millisecond {
		return o, fmt.Errorf("-dns-interval %v: want 100ms or more (resolvers rate-limit)", o.dnsInterval)
	}
	if o.dnsServer != "" {
		if err := checkHostPort(o.dnsServer, false); err != nil {
			return o, fmt.Errorf("-dns-server %q: %v", o.dnsServer, err)
		}
	}
	if o.healthPath != "" && !strings.HasPrefix(o.healthPath, "/") {
		return o, fmt.Errorf("-health-path %q: must start with /", o.healthPath)
	}
	for name, v := range map[string]int{
		"loops": o.loops, "max-header-bytes": o.maxHeaderBytes, "high-water": o.highWater,
		"health-rise": o.healthRise, "health-fall": o.healthFall,
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
	if _, err := pool.NewBalancer(o.balance, nil); err != nil {
		return o, fmt.Errorf("-balance %q: want %s", o.balance, strings.Join(pool.Policies, ", "))
	}
	if _, err := pool.NewTable(nil, o.routes); err != nil {
		return o, fmt.Errorf("-route: %v", err)
	}
	if err := o.checkOps(); err != nil {
		return o, err
	}
	return o, nil
}

// newFlagSet returns pilb's flag set, writing into o, port (-port) and
// flagErr (the first bad value of a repeatable flag, with its name).
func newFlagSet(o *options, port *int, flagErr *error) *flag.FlagSet {
	nextID := 1
	fs := flag.NewFlagSet("pilb", flag.ContinueOnError)
	// repeatable registers a repeatable flag whose errors name it first,
	// as every other error of parseFlags does.
	repeatable := func(name, usage string, parse func(string) error) {
		fs.Func(name, usage, func(v string) error {
			err := parse(v)
			if err != nil && *flagErr == nil {
				*flagErr = fmt.Errorf("-%s: %v", name, err)
			}
			return err
		})
	}
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", ":8080", "listen `address`, host:port")
	fs.IntVar(port, "port", 0, "listen on :`PORT` (the same as -listen :PORT)")
	repeatable("backends", "backends of a pool, as `[pool=]host:port,...` (pool default without pool=); repeatable; host names are resolved at start and every -dns-interval", func(v string) error {
		next, err := o.addBackends(v, nextID)
		nextID = next
		return err
	})
	repeatable("backends-dns", "a name whose every address is a backend of a pool, as `[pool=]name:port`, or [pool=]_service._proto.name for SRV; re-resolved every -dns-interval; repeatable", func(v string) error {
		t, err := discovery.ParseTarget(v, control.SourceDNS)
		if err != nil {
			return err
		}
		o.backendsDNS = append(o.backendsDNS, t)
		return nil
	})
	repeatable("route", "requests to send to a pool, as `host=pool`, /prefix=pool or host/prefix=pool (*.host for subdomains); the most specific wins, the rest go to pool default; repeatable", func(v string) error {
		r, err := pool.ParseRoute(v)
		if err != nil {
			return err
		}
		o.routes = append(o.routes, r)
		return nil
	})
	fs.IntVar(&o.demo, "demo", 0, "start `N` built-in demo backends on loopback and balance over them")
	fs.IntVar(&o.loops, "loops", runtime.NumCPU(), "number of event `loops` (one per core)")
	fs.IntVar(&o.connsPerBackend, "conns-per-backend", 4, "keep-alive `connections` pre-dialed per backend per loop (one while the backend had no request for -backend-idle-timeout)")
	fs.IntVar(&o.maxConnsPerBackend, "max-conns-per-backend", 0, "most `requests` in flight per backend, all loops together; 0 means no limit")
	fs.IntVar(&o.maxIdlePerBackend, "max-idle-per-backend", engine.DefaultMaxIdlePerBackend, "most idle keep-alive `connections` kept per backend per loop")
	fs.StringVar(&o.balance, "balance", pool.PolicyRoundRobin, "balancing `algorithm` in each pool: "+strings.Join(pool.Policies, ", "))
	fs.DurationVar(&o.connectTimeout, "connect-timeout", engine.DefaultConnectTimeout, "backend connect `timeout`")
	fs.DurationVar(&o.headerTimeout, "header-timeout", engine.DefaultHeaderTimeout, "`time` a client has to send a whole request head (then 408)")
	fs.DurationVar(&o.backendTimeout, "backend-timeout", engine.DefaultBackendTimeout, "`time` a backend has to start its response once it has the request (then 504)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", engine.DefaultIdleTimeout, "`time` a client may stay silent between requests or inside a body, or leave a response unread")
	fs.DurationVar(&o.backendIdleTimeout, "backend-idle-timeout", engine.DefaultBackendIdleTimeout, "`time` an idle pooled backend connection is kept (keep it below the backends' keep-alive timeout)")
	fs.DurationVar(&o.tunnelTimeout, "tunnel-timeout", engine.DefaultTunnelTimeout, "`time` an upgraded connection (WebSocket) may carry nothing either way")
	fs.DurationVar(&o.parkAfter, "park-after", engine.DefaultParkAfter, "`time` a keep-alive client sits idle before it is parked off the event loop, which frees gnet's state for it, about two thirds of its memory (at or above -idle-timeout: never)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM/SIGINT, the longest `time` to let requests in flight finish")
	fs.DurationVar(&o.healthInterval, "health-interval", pool.DefaultInterval, "active health check `interval`; 0 disables the checks")
	fs.DurationVar(&o.healthTimeout, "health-timeout", time.Second, "`time` one health probe may take before it counts as failed")
	fs.IntVar(&o.healthRise, "health-rise", pool.DefaultRise, "consecutive successful `probes` that bring a down backend up")
	fs.IntVar(&o.healthFall, "health-fall", pool.DefaultFall, "consecutive failed `probes` that take an up backend down")
	fs.StringVar(&o.healthPath, "health-path", "", "HTTP `path` to GET for health checks (2xx/3xx is up); empty checks with a TCP connect")
	fs.DurationVar(&o.dnsInterval, "dns-interval", discovery.DefaultInterval, "`time` between two resolutions of -backends-dns names and -backends host names")
	fs.StringVar(&o.dnsServer, "dns-server", "", "DNS server `host:port` for those names (a Consul agent: 127.0.0.1:8600); empty uses the system's resolver")
	fs.StringVar(&o.admin, "admin", control.DefaultAdminAddr, "admin API listen `address` (JSON: GET/POST/DELETE /backends, GET /pools); empty disables it")
	fs.StringVar(&o.adminToken, "admin-token", "", "bearer `token` the admin API requires (prefer the "+tokenEnv+" environment variable; ps shows flags)")
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", httpparse.DefaultMaxHeadBytes, "largest request head in `bytes` (then 431)")
	fs.IntVar(&o.maxConns, "max-conns", 0, "most open client `connections`; 0 = half the file descriptor limit less a reserve")
	fs.IntVar(&o.highWater, "high-water", engine.DefaultHighWater, "`bytes` held for a slow peer before PILB stops reading the fast one")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	o.addOpsFlags(fs)
	explainDurations(fs)
	return fs
}

// addBackends parses one -backends value, [pool=]host:port,...: addresses
// become backends b<next>, b<next+1>, ...; host names become targets
// resolved at start (they must resolve) and every -dns-interval. It
// returns the next free number.
func (o *options) addBackends(v string, next int) (int, error) {
	poolName := ""
	if i := strings.IndexByte(v, '='); i >= 0 {
		poolName, v = v[:i], v[i+1:]
		if err := pool.CheckPoolName(poolName); err != nil {
			return next, err
		}
	}
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if err := checkHostPort(a, false); err != nil {
			return next, fmt.Errorf("%q: %v", a, err)
		}
		host, port, _ := net.SplitHostPort(a)
		if net.ParseIP(host) == nil {
			t, err := discovery.ParseTarget(net.JoinHostPort(host, port), control.SourceFlag)
			if err != nil {
				return next, err
			}
			t.Pool, t.Required = poolName, true
			o.backendNames = append(o.backendNames, t)
			continue
		}
		ap, err := control.ParseAddr(a)
		if err != nil {
			return next, fmt.Errorf("%q: %v", a, err)
		}
		if err := o.noDuplicate(poolName, ap); err != nil { // ops: a duplicate exits 2 (ops.go)
			return next, err
		}
		o.backends = append(o.backends, control.Spec{ID: fmt.Sprintf("b%d", next), Pool: poolName, Addr: a})
		next++
	}
	return next, nil
}

// checkHostPort checks a host:port; the host may be empty only for a
// listen address (all interfaces).
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(hostPortHint(addr)) // ops: says what to type (ops.go)
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
func (o options) engineConfig(routes *pool.Routes, log *slog.Logger) engine.Config {
	return engine.Config{
		Addr:               o.listen,
		Loops:              o.loops,
		Routes:             routes,
		ConnsPerBackend:    o.connsPerBackend,
		MaxIdlePerBackend:  o.maxIdlePerBackend,
		ConnectTimeout:     o.connectTimeout,
		HeaderTimeout:      o.headerTimeout,
		BackendTimeout:     o.backendTimeout,
		IdleTimeout:        o.idleTimeout,
		BackendIdleTimeout: o.backendIdleTimeout,
		TunnelTimeout:      o.tunnelTimeout,
		ParkAfter:          o.parkAfter,
		MaxHeaderBytes:     o.maxHeaderBytes,
		MaxClientConns:     o.maxConns,
		HighWater:          o.highWater,
		Logger:             log,
		Proto:              o.forwardedProto,
		Operations: engine.Operations{
			Metrics:        o.admin != "", // /metrics is on the admin API
			MonitorURI:     o.monitorURI,
			MonitorPool:    o.monitorPool,
			ProxyProtocol:  o.proxyProtocol,
			TrustedProxies: o.trustedProxies,
			DrainIdleGrace: o.drainIdleGrace,
			QueueTimeout:   o.queueTimeoutIfCapped(),
			MaxQueue:       o.maxQueue,
		},
	}
}
