// Command pilb-backend runs one demo HTTP/1.1 backend (package
// internal/demobackend): the origin server of PILB's demos, end-to-end
// tests and benchmarks. Every response names the backend in "Server: <id>".
//
//	pilb-backend -listen 127.0.0.1:5001 -id s1
//	pilb-backend -port 5001 -id s1          # the same on every interface
//	pilb-backend -body-size 12              # 12-byte "/" body for load tests
//	pilb-backend -id s1 -pool api -listen :5000 -register http://proxy:9090 -ttl 10s
//
// With -register it announces itself to a pilb's admin API, as the original
// project's servers did: it registers once listening, refreshes at a third
// of -ttl, retries with back-off while the proxy is down, and on SIGTERM or
// SIGINT deregisters, waits for the proxy to let go of its connections
// (requests in flight finish) and only then stops.
//
// Routes: "/" (and any other path) returns the body, /bytes/N, /chunked/N,
// /echo, /status/N and /close; see the package documentation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/internal/demobackend"
	"github.com/pilb-proxy/pilb/pool"
)

const (
	// stopTimeout bounds the shutdown after SIGINT/SIGTERM.
	stopTimeout = 5 * time.Second
	// deregisterTimeout bounds the DELETE sent to the proxy at exit.
	deregisterTimeout = 5 * time.Second
	// connPoll is how often the exit checks whether the proxy has closed
	// its connections.
	connPoll = 20 * time.Millisecond
	// tokenEnv holds the admin token, as for pilb.
	tokenEnv = "PILB_ADMIN_TOKEN"
)

type options struct {
	listen   string
	port     int
	id       string
	loops    int
	bodySize int
	logLevel slog.Level

	register     string
	token        string
	pool         string
	weight       int
	ttl          time.Duration
	advertise    string
	drainTimeout time.Duration
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pilb-backend: %v\n", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "pilb-backend: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, env func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("pilb-backend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5000", "listen `address` host:port (port 0 picks one; the log says which)")
	fs.IntVar(&o.port, "port", 0, "listen on :`PORT` on every interface (the same as -listen :PORT; not with -listen)")
	fs.StringVar(&o.id, "id", "s1", "backend `id`, sent as \"Server: <id>\" on every response and registered with -register")
	fs.IntVar(&o.loops, "loops", 1, "number of gnet event loops")
	fs.IntVar(&o.bodySize, "body-size", -1, "body of \"/\" is this many `bytes` of pattern; -1 = \"hello from <id>\\n\"")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&o.register, "register", "", "`URL` of a pilb admin API (http://proxy:9090) to register with; empty does not register")
	fs.StringVar(&o.token, "token", "", "bearer `token` of that admin API (prefer the "+tokenEnv+" environment variable)")
	fs.StringVar(&o.pool, "pool", pool.DefaultPool, "`pool` to register in")
	fs.IntVar(&o.weight, "weight", pool.DefaultWeight, fmt.Sprintf("`weight` to register with, 1 to %d", pool.MaxWeight))
	fs.DurationVar(&o.ttl, "ttl", 10*time.Second, "registration `ttl`: the proxy drops the backend unless refreshed (every third of it); 0 = no expiry")
	fs.StringVar(&o.advertise, "advertise", "", "`address` to register, ip:port or :port; empty registers the listen address, whose unspecified host (:5000) the proxy replaces with the address the registration comes from")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 10*time.Second, "after deregistering, the longest `time` to wait for the proxy to close its connections")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fmt.Fprintln(os.Stderr, "Usage: pilb-backend [flags]")
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["port"] {
		if set["listen"] {
			return o, errors.New("-port and -listen are exclusive")
		}
		if o.port <= 0 || o.port > 65535 {
			return o, fmt.Errorf("-port %d: want 1..65535", o.port)
		}
		o.listen = ":" + strconv.Itoa(o.port)
	}
	if o.id == "" {
		return o, errors.New("-id must not be empty")
	}
	if o.loops < 1 {
		return o, fmt.Errorf("-loops %d: want at least 1", o.loops)
	}
	if o.bodySize < -1 || o.bodySize > demobackend.MaxBody {
		return o, fmt.Errorf("-body-size %d: want -1..%d", o.bodySize, demobackend.MaxBody)
	}
	if !set["token"] {
		o.token = env(tokenEnv)
	}
	if o.register == "" {
		for _, f := range []string{"token", "pool", "weight", "ttl", "advertise"} {
			if set[f] {
				return o, fmt.Errorf("-%s: only with -register", f)
			}
		}
		return o, nil
	}
	if err := control.CheckURL(o.register); err != nil {
		return o, fmt.Errorf("-register %q: want the admin API's base URL, such as http://proxy:9090", o.register)
	}
	if err := control.CheckID(o.id); err != nil {
		return o, fmt.Errorf("-id %q: %v", o.id, err)
	}
	if err := pool.CheckPoolName(o.pool); err != nil {
		return o, fmt.Errorf("-pool: %v", err)
	}
	if o.weight < 1 || o.weight > pool.MaxWeight {
		return o, fmt.Errorf("-weight %d: want 1 to %d", o.weight, pool.MaxWeight)
	}
	if o.ttl != 0 && (o.ttl < control.MinTTL || o.ttl > control.MaxTTL) {
		return o, fmt.Errorf("-ttl %v: want 0 (no expiry) or %v to %v", o.ttl, control.MinTTL, control.MaxTTL)
	}
	if o.drainTimeout < 0 {
		return o, fmt.Errorf("-drain-timeout %v: must not be negative", o.drainTimeout)
	}
	return o, nil
}

func run(o options) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel}))
	cfg := demobackend.Config{ID: o.id, Addr: o.listen, Loops: o.loops, Logger: log}
	if o.bodySize >= 0 {
		cfg.Body = demobackend.PatternBody(o.bodySize)
	}
	srv, err := demobackend.Start(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	var reg *control.Registrar
	registered := make(chan struct{})
	if o.register != "" {
		addr := o.advertise
		if addr == "" {
			addr = srv.Addr()
		}
		reg = &control.Registrar{
			URL: o.register, Token: o.token, TTL: o.ttl, Logger: log,
			Spec: control.Spec{ID: o.id, Pool: o.pool, Addr: addr, Weight: o.weight},
		}
		go func() {
			_ = reg.Run(ctx)
			close(registered)
		}()
	}

	<-ctx.Done()
	if reg != nil {
		<-registered
		dctx, dcancel := context.WithTimeout(context.Background(), deregisterTimeout)
		if err := reg.Deregister(dctx); err != nil {
			log.Warn("deregistration failed; the proxy drains this backend when its ttl passes", "err", err)
		}
		dcancel()
		waitIdle(srv, o.drainTimeout, log)
	}
	log.Info("shutting down", "requests", srv.Requests())
	stopCtx, stopCancel := context.WithTimeout(context.Background(), stopTimeout)
	defer stopCancel()
	return srv.Stop(stopCtx)
}

// waitIdle waits until the proxy has closed every connection to srv: it
// does so once the requests it sent before the deregistration are
// answered. A second signal, or d passing, stops waiting.
func waitIdle(srv *demobackend.Server, d time.Duration, log *slog.Logger) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	deadline := time.After(d)
	tick := time.NewTicker(connPoll)
	defer tick.Stop()
	for srv.Conns() > 0 {
		select {
		case <-deadline:
			log.Warn("connections still open after the drain timeout", "conns", srv.Conns(), "timeout", d)
			return
		case <-sigs:
			return
		case <-tick.C:
		}
	}
}
