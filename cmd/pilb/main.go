// Command pilb is the PILB reverse proxy and load balancer.
//
//	pilb -listen :8080 -backends 10.0.1.5:5000,10.0.1.6:5000,10.0.1.7:5000
//	pilb -backends api=10.0.1.5:5000 -route api.example.com=api -backends 10.0.2.9:80
//	pilb -backends-dns app.internal:5000      # every address of the name, re-resolved
//	pilb                                       # backends register through -admin
//	pilb -demo 3            # three built-in demo backends, proxy on :8080
//	pilb -port 8080 ...     # the original project's flag: -listen :8080
//
// It only parses flags and wires the engine, the control plane's registry
// and admin API, DNS discovery, the health checker and the demo backends
// together; -h lists every flag. SIGHUP re-resolves DNS names and logs the
// backend set; SIGTERM and SIGINT drain and exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/control"
	"github.com/pilb-proxy/pilb/discovery"
	"github.com/pilb-proxy/pilb/engine"
	"github.com/pilb-proxy/pilb/pool"
)

// adminStopTimeout bounds the admin API's shutdown at exit.
const adminStopTimeout = 2 * time.Second

func main() {
	var opts options
	args, err := withFlagsFile(os.Args[1:]) // ops: flags from -flags-file first (ops.go)
	if err == nil {
		opts, err = parseFlags(args, os.Getenv, os.Stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pilb: %v\n", err)
		os.Exit(2)
	}
	if opts.version {
		fmt.Println(versionLine())
		os.Exit(0)
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "pilb: %v\n", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, then drains for at most
// -drain-timeout; a second signal stops at once. SIGUSR2 starts a
// successor and, once it serves, drains the same way (upgrade.go).
// defaultGOGC is the garbage collector's target unless GOGC is set (see
// run).
const defaultGOGC = 25

func run(o options) error {
	log := newLogger(o.logFormat, o.logLevel, os.Stderr)
	log.Info("starting", "version", versionLine())
	// Before anything is served: SIGUSR2's default action is to exit.
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	in, err := inherit()
	if err != nil {
		return err
	}

	// Each gnet loop waits in epoll_wait, a blocking syscall that keeps its
	// P (scheduler slot) until sysmon takes it back, after 20 µs to 10 ms.
	// With one P per loop, every other goroutine (the loops' tickers,
	// backend dials, health probes) waits that long for a P, and taking it
	// makes the loop wait in turn when it wakes: measured on one pinned
	// core at 16 connections, 48k req/s and p99 5 ms with GOMAXPROCS=1,
	// 60k and 3.1 ms with 2. One spare P avoids the hand-offs.
	if n := o.loops + 1; runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	// The engine allocates nothing per request, so the garbage collector
	// runs on connection churn only, and its default (GOGC=100: the heap
	// may double between collections) buys little CPU for a lot of memory.
	// At 25, measured with one pinned loop: 12.4 MB instead of 15.1 MB peak
	// RSS for non-keep-alive load at +1% CPU per request (39.8 against
	// 39.3 µs), and 0.69 instead of 0.74 KiB per idle connection. A GOGC
	// in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}

	reg, err := control.New(control.Config{
		Policy: o.balance, Routes: o.routes, MaxConnsPerBackend: o.maxConnsPerBackend, Logger: log,
	})
	if err != nil {
		return err
	}
	if o.demo > 0 {
		stop, err := startDemo(o, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := reg.Replace("-backends", control.SourceFlag, o.backends); err != nil {
		return fmt.Errorf("-backends: %v", err)
	}
	if in != nil {
		in.registerInherited(reg, log)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watcher := &discovery.Watcher{
		Targets:  append(o.backendNames, o.backendsDNS...),
		Resolver: &discovery.Resolver{Server: o.dnsServer},
		Registry: reg,
		Interval: o.dnsInterval,
		Logger:   log,
	}
	if len(watcher.Targets) > 0 {
		if err := watcher.Refresh(ctx); err != nil {
			return fmt.Errorf("-backends: a host name does not resolve: %v", err)
		}
		go watcher.Run(ctx)
	}
	go reg.Run(ctx)
	for _, r := range o.routes {
		if p := reg.Routes().Load().Pool(r.Pool); p == nil || len(p.Backends()) == 0 {
			log.Warn("route to a pool with no backend yet: 503 until one registers", "route", r.String())
		}
	}

	alog, err := openAccessLog(o.opsOptions, log)
	if err != nil {
		return err
	}
	defer alog.close() // after the engine has stopped: the last lines are written
	cfg := o.engineConfig(reg.Routes(), log)
	if alog != nil {
		cfg.AccessLog = alog.AccessLog
	}
	// pilb accepts on a socket of its own (inherited from the pilb it
	// replaces, when it does), so that it can hand it to its successor.
	var inheritedListen, inheritedAdmin net.Listener
	if in != nil {
		inheritedListen, inheritedAdmin = in.listen, in.admin
	}
	var ln net.Listener
	if o.reusePort {
		if inheritedListen != nil {
			_ = inheritedListen.Close()
		}
	} else {
		if ln, err = listenOn("listen", o.listen, inheritedListen); err != nil {
			return err
		}
		cfg.Listener, cfg.Addr = ln, ln.Addr().String()
	}
	srv, err := engine.New(cfg)
	if err != nil {
		return err
	}
	var admin *control.Admin
	var adminLn net.Listener
	if o.admin != "" {
		h := &control.Handler{Registry: reg, Token: o.adminToken, Health: srv.Health, Metrics: metricsHandler(srv, log)}
		if adminLn, err = listenOn("admin", o.admin, inheritedAdmin); err != nil {
			return err
		}
		admin = control.NewAdmin(adminLn, h, log)
		go func() {
			if err := admin.Serve(); err != nil {
				log.Error("admin API stopped", "err", err)
			}
		}()
		defer stopAdmin(admin)
	} else if inheritedAdmin != nil {
		_ = inheritedAdmin.Close()
	}
	if o.healthInterval > 0 {
		checker := &pool.Checker{
			Interval: o.healthInterval,
			Timeout:  o.healthTimeout,
			Rise:     o.healthRise,
			Fall:     o.healthFall,
			Probe:    probe(o),
			Logger:   log,
		}
		go checker.Run(ctx, reg.Routes())
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	go reload(ctx, hups, watcher, reg, log, func() { alog.reopen(log) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err := <-served:
		return err
	case <-srv.Accepting():
	}
	if err := writePIDFile(o.pidFile); err != nil {
		log.Error("-pid-file: cannot write it", "path", o.pidFile, "err", err)
	}
	defer removePIDFile(o.pidFile)
	sdNotify(readyState())
	if in != nil {
		if err := in.signalReady(); err != nil {
			log.Warn("upgrade: the previous pilb did not hear that this one is ready", "err", err)
		}
		log.Info("upgrade: serving in place of the previous pilb", "addr", srv.Addr())
	}
	handedOver := make(chan int, 1)
	go upgradeOnSignal(usr2, newUpgrader(ln, adminLn, reg, log), handedOver, log)

	select {
	case err := <-served:
		return err
	case sig := <-sigs:
		sdNotify("STOPPING=1")
		log.Info("signal received, draining", "signal", sig.String(), "timeout", o.drainTimeout)
	case pid := <-handedOver:
		// Stop accepting at once: the successor accepts from the same
		// queue. The admin API's socket goes to it too.
		srv.StopAccepting()
		if admin != nil {
			go stopAdmin(admin)
		}
		log.Info("upgrade: the successor serves; draining", "successor", pid, "timeout", o.drainTimeout)
	}
	drainCtx, drainCancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer drainCancel()
	go func() {
		<-sigs
		log.Warn("second signal, stopping now")
		drainCancel()
	}()
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("drain cut short; connections still open were closed", "err", err)
	}
	return nil
}

// upgradeOnSignal starts a successor on each SIGUSR2 until one is ready,
// whose pid it sends on handedOver. A failed upgrade is logged; this pilb
// goes on serving.
func upgradeOnSignal(usr2 <-chan os.Signal, u *upgrader, handedOver chan<- int, log *slog.Logger) {
	for range usr2 {
		log.Info("SIGUSR2: starting a successor", "binary", u.exe)
		pid, err := u.upgrade()
		if err != nil {
			log.Error("upgrade failed; still serving", "err", err)
			continue
		}
		handedOver <- pid
		return
	}
}

// stopAdmin stops the admin API, letting requests in progress finish.
func stopAdmin(admin *control.Admin) {
	ctx, cancel := context.WithTimeout(context.Background(), adminStopTimeout)
	defer cancel()
	_ = admin.Shutdown(ctx)
}

// reload answers SIGHUP: it re-resolves every DNS name at once (rather than
// at the next -dns-interval), logs the backend set, pool by pool, and runs
// also (which reopens the access log file after its rotation). pilb has no
// configuration file to reload; backends change through DNS and the admin
// API without one.
func reload(ctx context.Context, hups <-chan os.Signal, w *discovery.Watcher, reg *control.Registry, log *slog.Logger, also func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hups:
		}
		also()
		log.Info("SIGHUP: resolving DNS names again", "names", len(w.Targets))
		if len(w.Targets) > 0 {
			if err := w.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("SIGHUP: some names do not resolve", "err", err)
			}
		}
		for _, p := range reg.Summary() {
			log.Info("backend set", "pool", p.Pool, "count", len(p.Backends), "backends", strings.Join(p.Backends, " "))
		}
	}
}
