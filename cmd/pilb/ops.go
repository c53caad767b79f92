package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilb-proxy/pilb/engine"
)

// This file is the operator's side of pilb: logs, the access log, metrics,
// the health endpoints, -version.

// opsOptions are the command line's operations flags.
type opsOptions struct {
	accessLog       string // a path, "stdout" or "off"
	accessLogFormat engine.AccessLogFormat
	logFormat       string // "text" or "json"
	monitorURI      string
	monitorPool     string
	version         bool
	proxyProtocol   bool
	trustedProxies  []netip.Prefix
	forwardedProto  string
	pidFile         string
	flagsFile       string // read by withFlagsFile before the flags are parsed
	drainIdleGrace  time.Duration
	queueTimeout    time.Duration
	maxQueue        int
	reusePort       bool
}

// addOpsFlags registers the operations flags on fs.
func (o *opsOptions) addOpsFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.accessLog, "access-log", "off", "access log: a file `path` (reopened on SIGHUP, for logrotate), stdout, or off")
	fs.Func("access-log-format", "access log `format`: json or common (Common Log Format, then pool, backend, duration) (default json)", func(v string) error {
		f, err := engine.ParseAccessLogFormat(v)
		if err != nil {
			return errors.New("want json or common")
		}
		o.accessLogFormat = f
		return nil
	})
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&o.monitorURI, "monitor-uri", "", "`path` pilb answers itself on -listen for the load balancer in front: 200 while -monitor-pool has an available backend, 503 otherwise or while draining")
	fs.StringVar(&o.monitorPool, "monitor-pool", "", "`pool` the -monitor-uri and the admin API's /healthz watch (default: the default pool)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.proxyProtocol, "proxy-protocol", false, "require a PROXY protocol header (v1 or v2, as an AWS NLB sends) on every client connection, and take the client address from it")
	fs.Func("trusted-proxies", "`CIDR,...` of proxies whose X-Forwarded-Proto is kept (an ALB's subnets); from others it is replaced", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				ip, ierr := netip.ParseAddr(s)
				if ierr != nil {
					return fmt.Errorf("%q: want an address or a CIDR such as 10.0.0.0/16", s)
				}
				p = netip.PrefixFrom(ip, ip.BitLen())
			}
			o.trustedProxies = append(o.trustedProxies, p.Masked())
		}
		return nil
	})
	fs.StringVar(&o.pidFile, "pid-file", "", "write the process id to this `path` once serving (for systemd's PIDFile=, which follows a restart by SIGUSR2)")
	fs.StringVar(&o.flagsFile, "flags-file", "", "read flags from this `path` first, one per line (# comments); read again by the successor a SIGUSR2 starts, so that new flags take effect")
	fs.DurationVar(&o.drainIdleGrace, "drain-idle-grace", time.Second, "while draining, `time` an idle keep-alive client has to send its next request (answered with Connection: close) before it is closed")
	fs.BoolVar(&o.reusePort, "reuseport", false, "accept with gnet's own SO_REUSEPORT listener per loop rather than pilb's accept loop: new connections cost less CPU (see the README), but a SIGUSR2 restart is refused")
	fs.DurationVar(&o.queueTimeout, "queue-timeout", 5*time.Second, "with -max-conns-per-backend, the longest `time` a request waits, in arrival order, for a backend slot (then 503); 0 answers 503 at once")
	fs.IntVar(&o.maxQueue, "max-queue", engine.DefaultMaxQueue, "most `requests` waiting per pool for a backend slot; past it, 503 at once")
	fs.StringVar(&o.forwardedProto, "forwarded-proto", "http", "X-Forwarded-Proto PILB sets: `scheme` http, or https when a TLS-terminating balancer that sets no header (an NLB TLS listener) is in front")
}

// checkOps validates the operations flags.
func (o *opsOptions) checkOps() error {
	switch o.logFormat {
	case "text", "json":
	default:
		return fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	if o.accessLog == "" {
		return errors.New(`-access-log "": want a file path, stdout or off`)
	}
	if o.queueTimeout < 0 {
		return fmt.Errorf("-queue-timeout %v: must not be negative (0 answers 503 at once)", o.queueTimeout)
	}
	if o.maxQueue < 1 {
		return fmt.Errorf("-max-queue %d: want 1 or more", o.maxQueue)
	}
	if o.drainIdleGrace < 0 {
		return fmt.Errorf("-drain-idle-grace %v: must not be negative (0 closes idle clients at once)", o.drainIdleGrace)
	}
	if o.forwardedProto != "http" && o.forwardedProto != "https" {
		return fmt.Errorf("-forwarded-proto %q: want http or https", o.forwardedProto)
	}
	if o.monitorURI != "" && !strings.HasPrefix(o.monitorURI, "/") {
		return fmt.Errorf("-monitor-uri %q: must start with /, e.g. /-/health", o.monitorURI)
	}
	return nil
}

// newLogger returns the process's logger in -log-format at -log-level.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// accessLog is the access log of a run and its output.
type accessLog struct {
	*engine.AccessLog
	path string

	mu   sync.Mutex
	file *os.File // nil for stdout
}

// openAccessLog starts the access log of -access-log, or returns nil for
// off.
func openAccessLog(o opsOptions, log *slog.Logger) (*accessLog, error) {
	switch o.accessLog {
	case "off":
		return nil, nil
	case "stdout":
		return &accessLog{AccessLog: engine.NewAccessLog(os.Stdout, o.accessLogFormat, log)}, nil
	}
	f, err := openLogFile(o.accessLog)
	if err != nil {
		return nil, fmt.Errorf("-access-log: %v", err)
	}
	return &accessLog{AccessLog: engine.NewAccessLog(f, o.accessLogFormat, log), path: o.accessLog, file: f}, nil
}

// logFileMode keeps an access log from other users of the host: it holds
// client addresses and URLs.
const logFileMode = 0o640

func openLogFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, logFileMode)
}

// reopen opens the log file again (after logrotate moved it) and switches
// the log to it; the old file is closed once what was buffered for it is
// written.
func (a *accessLog) reopen(log *slog.Logger) {
	if a == nil || a.file == nil {
		return
	}
	f, err := openLogFile(a.path)
	if err != nil {
		log.Error("access log: reopening failed; still writing to the old file", "path", a.path, "err", err)
		return
	}
	a.SetOutput(f)
	a.mu.Lock()
	old := a.file
	a.file = f
	a.mu.Unlock()
	_ = old.Close()
	log.Info("access log reopened", "path", a.path)
}

// close writes what is left and closes the file.
func (a *accessLog) close() {
	if a == nil {
		return
	}
	_ = a.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file != nil {
		_ = a.file.Close()
	}
}

// metricsHandler serves the engine's metrics, the Go runtime's and the
// process's, and pilb_build_info, in the Prometheus exposition format.
func metricsHandler(srv *engine.Server, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	bi := buildInfo()
	reg.MustRegister(
		srv.Collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "pilb_build_info",
			Help:        "1, labelled with the version and VCS revision pilb was built from.",
			ConstLabels: prometheus.Labels{"version": bi.version, "revision": bi.revision, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape takes a snapshot on every loop; a slow scrape must
		// not pile up more of them.
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
}

// build is what the binary knows of its build.
type build struct {
	version  string // module version, "(devel)" for a build from a clone
	revision string // VCS revision, "unknown" without VCS stamping
	time     string
	modified bool
}

func buildInfo() build {
	b := build{version: "(devel)", revision: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// versionLine is what -version prints.
func versionLine() string {
	b := buildInfo()
	s := "pilb " + b.version + " revision " + b.revision
	if b.time != "" {
		s += " (" + b.time
		if b.modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// unitDuration wraps a duration flag so that a value without a unit says
// what to type: "-connect-timeout 5" is 5 what?
type unitDuration struct{ inner flag.Value }

func (d *unitDuration) String() string {
	if d.inner == nil {
		return "0s" // the zero value flag.PrintDefaults compares with
	}
	return d.inner.String()
}

func (d *unitDuration) Get() any { return d.inner.(flag.Getter).Get() }

func (d *unitDuration) Set(v string) error {
	err := d.inner.Set(v)
	if err == nil {
		return nil
	}
	if _, perr := time.ParseDuration(v + "s"); perr == nil {
		return fmt.Errorf("no unit: use a unit, e.g. %ss or %sms", v, v)
	}
	return errors.New("want a duration with a unit, e.g. 500ms, 2s, 1m")
}

// explainDurations wraps every duration flag of fs in unitDuration.
func explainDurations(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok {
			if _, isDuration := g.Get().(time.Duration); isDuration {
				f.Value = &unitDuration{f.Value}
			}
		}
	})
}

// hostPortHint says what is wrong with an address that is not host:port,
// and what to type instead.
func hostPortHint(addr string) string {
	if strings.Count(addr, ":") > 1 && !strings.HasPrefix(addr, "[") {
		// An IPv6 address and a port, unbracketed: ::1:5000.
		i := strings.LastIndexByte(addr, ':')
		if ip, err := netip.ParseAddr(addr[:i]); err == nil && ip.Is6() {
			return fmt.Sprintf("write IPv6 as [%s]:%s", addr[:i], addr[i+1:])
		}
		return "write IPv6 as [address]:port, e.g. [::1]:5000"
	}
	if !strings.Contains(addr, ":") {
		if _, err := strconv.Atoi(addr); err == nil {
			return fmt.Sprintf("want host:port; for a port alone write :%s", addr)
		}
		return fmt.Sprintf("want host:port, e.g. %s:80", addr)
	}
	return "want host:port"
}

// noDuplicate refuses a backend address given twice to one pool of
// -backends (the registry would refuse it at start; caught here, it exits
// 2 like any bad value). One server in two pools is allowed.
func (o *options) noDuplicate(poolName string, ap netip.AddrPort) error {
	for _, b := range o.backends {
		if b.Pool != poolName {
			continue
		}
		if prev, err := netip.ParseAddrPort(b.Addr); err == nil && prev.Addr().Unmap() == ap.Addr() && prev.Port() == ap.Port() {
			return fmt.Errorf("%s given twice to pool %s (as %s): each backend once", ap, displayPool(poolName), b.ID)
		}
	}
	return nil
}

func displayPool(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

// maxFlagsFile bounds a -flags-file: flags, not data.
const maxFlagsFile = 1 << 20

// withFlagsFile returns args with the flags of the -flags-file they name
// put before them, so that the command line wins for single-valued flags
// (repeatable ones add up). In the file, each line is one flag, "-name
// value", "-name=value" or "-name"; blank lines and lines starting with #
// are skipped; the value is the rest of the line, spaces included ("" is
// the empty value: -admin "").
func withFlagsFile(args []string) ([]string, error) {
	path := flagsFilePath(args)
	if path == "" {
		return args, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-flags-file: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFlagsFile+1))
	if err != nil {
		return nil, fmt.Errorf("-flags-file %s: %v", path, err)
	}
	if len(b) > maxFlagsFile {
		return nil, fmt.Errorf("-flags-file %s: larger than %d bytes", path, maxFlagsFile)
	}
	var out []string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "-") {
			return nil, fmt.Errorf("-flags-file %s:%d: %q: a flag starts with -", path, n+1, line)
		}
		name, value, hasValue := strings.Cut(line, " ")
		name = strings.TrimRight(name, "\t")
		if k, _, _ := strings.Cut(strings.TrimLeft(name, "-"), "="); k == "flags-file" {
			return nil, fmt.Errorf("-flags-file %s:%d: a flags file cannot name another", path, n+1)
		}
		if hasValue {
			// One token: a boolean flag takes "-name=false", not "-name false".
			value = strings.TrimSpace(value)
			if value == `""` || value == "''" {
				value = "" // -admin "": off
			}
			name += "=" + value
		}
		out = append(out, name)
	}
	return append(out, args...), nil
}

// flagsFilePath returns the -flags-file that args name, as the flag
// package reads them: a scan of the words would stop at the first value
// ("-pid-file /run/pilb/pilb.pid -flags-file f" read no file) or take a
// value for the flag. Parse errors are left to parseFlags, which meets them
// at the same argument.
func flagsFilePath(args []string) string {
	var o options
	var port int
	var flagErr error
	_ = newFlagSet(&o, &port, &flagErr).Parse(args)
	return o.flagsFile
}

// queueTimeoutIfCapped is -queue-timeout when backends have a cap: without
// one no request ever waits, and the hot path skips the queue entirely.
func (o *options) queueTimeoutIfCapped() time.Duration {
	if o.maxConnsPerBackend <= 0 {
		return 0
	}
	return o.queueTimeout
}
