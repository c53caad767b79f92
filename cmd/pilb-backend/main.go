// Command pilb-backend runs one demo HTTP/1.1 backend (package
// internal/demobackend): the origin server of PILB's demos, end-to-end
// tests and benchmarks. Every response names the backend in "Server: <id>".
//
//	pilb-backend -listen 127.0.0.1:5001 -id s1
//	pilb-backend -port 5001 -id s1          # the same on every interface
//	pilb-backend -body-size 12              # 12-byte "/" body for load tests
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

	"github.com/pilb-proxy/pilb/internal/demobackend"
)

// stopTimeout bounds the shutdown after SIGINT/SIGTERM.
const stopTimeout = 5 * time.Second

type options struct {
	listen   string
	port     int
	id       string
	loops    int
	bodySize int
	logLevel slog.Level
}

func main() {
	opts, err := parseFlags(os.Args[1:])
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

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("pilb-backend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5000", "listen `address` host:port (port 0 picks one; the log says which)")
	fs.IntVar(&o.port, "port", 0, "listen on :`PORT` on every interface (the same as -listen :PORT; not with -listen)")
	fs.StringVar(&o.id, "id", "s1", "backend `id`, sent as \"Server: <id>\" on every response")
	fs.IntVar(&o.loops, "loops", 1, "number of gnet event loops")
	fs.IntVar(&o.bodySize, "body-size", -1, "body of \"/\" is this many `bytes` of pattern; -1 = \"hello from <id>\\n\"")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
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

	<-ctx.Done()
	log.Info("shutting down", "requests", srv.Requests())
	stopCtx, stopCancel := context.WithTimeout(context.Background(), stopTimeout)
	defer stopCancel()
	return srv.Stop(stopCtx)
}
