package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/internal/gnetlog"
	"github.com/pilb-proxy/pilb/pool"
)

// readBufferCap is the most gnet reads from one socket per readiness
// event, into one buffer per loop: the most one connection's turn on the
// loop moves at once. 1024 clients downloading 1 MiB each (pilb-bench
// hostile downloads1024, bench/reports/2026-11-30-readcap):
//   - gnet's 64 KiB cost about twice the CPU per request of 256 KiB (947
//     against 483 µs), and saturated the loop's core;
//   - 256 KiB: p50 173 ms but p90 762 ms (2,237 responses a second). The
//     skew is in how wrk meets long writes (it reads a readable socket
//     until it is empty): a client that timed every response on its own
//     connection saw pilb fair there (p50 357, p90 395 ms);
//   - 128 KiB: p90 407 ms (nginx 615) at 2,597 a second, for 22% more CPU
//     per request than 256 KiB (270 against 220 µs; nginx 341).
//
// It also bounds what a slow peer holds: HighWater plus one read.
const readBufferCap = 128 << 10

// Server is the proxy: a gnet engine whose loops each own their client
// connections and a pool of keep-alive backend connections.
type Server struct {
	gnet.BuiltinEventEngine

	cfg  Config
	log  *slog.Logger
	addr string // resolved listen address

	eng      gnet.Engine
	booted   chan struct{}
	stopped  chan struct{}
	serveErr error

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loop

	ctx    context.Context // ends when the engine shuts down: stops tickers
	cancel context.CancelFunc

	draining atomic.Bool
	clients  atomic.Int64
	kickOnce sync.Once
	enrols   stopGate // the engine stops once no enrolment is under way (stopgate.go)

	panics   atomic.Int64 // panics recovered on the loops (guard.go)
	pauses   atomic.Int64 // sockets taken off a loop by flow control (pause.go)
	parked   atomic.Int64 // idle clients in the loops' park sets now (park.go)
	parks    atomic.Int64 // idle clients parked since start (park.go)
	closes   atomic.Int64 // client and backend connections closed since start (for trim.go)
	panicLog panicLog

	ops serverOps // ops: metrics and the rest of operations (ops.go)
}

// Panics returns the number of panics recovered on the event loops since
// start. Each cost the connection pair it concerned, nothing more; any is
// a bug, logged with its stack at error.
func (s *Server) Panics() int64 { return s.panics.Load() }

// New checks cfg and returns a Server ready to Serve.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr, err := resolveListenAddr(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %v", ErrConfig, cfg.Addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "engine"),
		addr:    addr,
		booted:  make(chan struct{}),
		stopped: make(chan struct{}),
		loops:   make(map[gnet.EventLoop]*loop),
		ctx:     ctx,
		cancel:  cancel,
	}, nil
}

// resolveListenAddr picks a free port for port 0: with SO_REUSEPORT every
// loop binds its own listener, and each would get a different port.
func resolveListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("bad port %q", port)
		}
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port), nil
}

// Addr returns the address the server listens on, with the port resolved.
func (s *Server) Addr() string { return s.addr }

// Serve runs the proxy until Shutdown; it returns the engine's error, or
// nil after a clean Shutdown.
func (s *Server) Serve() error {
	defer close(s.stopped)
	defer s.cancel()
	defer s.closeDetached()
	gnetAddr, ticker, cleanup := s.gnetAddr() // ops: a private address in listener mode (listener.go)
	defer cleanup()
	err := gnet.Run(s, gnetAddr,
		gnet.WithTicker(ticker), // ops: starts the accept loop in listener mode (listener.go)
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithReusePort(true),
		// A restart binds even while connections of the previous server
		// (pilb or another) sit in TIME_WAIT on the port.
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(readBufferCap),
		gnet.WithLogger(gnetlog.New(s.log)),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	if err != nil {
		s.serveErr = err
		select {
		case <-s.booted:
		default:
			close(s.booted) // release Start
		}
	}
	return err
}

// Start runs Serve in a goroutine and returns once the server listens.
func (s *Server) Start() error {
	go func() { _ = s.Serve() }()
	<-s.booted
	return s.serveErr
}

// Shutdown drains the server: idle clients are closed at once, busy ones
// after their response, new connections are closed as they arrive, and
// when no client is left (or ctx ends) the engine stops. It returns ctx's
// error when the drain was cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.StopAccepting() // ops: listener mode: stop accepting first, lose nothing accepted (listener.go)
	if !s.draining.CompareAndSwap(false, true) {
		return ErrShuttingDown
	}
	s.log.Info("draining", "clients", s.clients.Load())
	var drainErr error
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.clients.Load() > 0 && drainErr == nil {
		select {
		case <-ctx.Done():
			drainErr = ctx.Err()
		case <-t.C:
		}
	}
	// An enrolment under way when the loops stop would never end, and
	// its descriptors would leak (stopgate.go).
	if n := s.enrols.close(stopWait); n > 0 {
		s.log.Warn("engine stopping with connections still being enrolled", "enrolments", n)
	}
	// Engine.Stop polls for the end every 500 ms; Serve returns the moment
	// the engine is down, so wait for that instead.
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		if err := s.eng.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("engine stop", "err", err)
		}
	}()
	select {
	case <-s.stopped:
	case <-stopCtx.Done():
		s.log.Warn("engine did not stop in time")
	}
	return drainErr
}

// OnBoot records the engine and knocks on the listener, so that the
// pre-dial starts before the first client (see kickLoops).
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.log.Info("listening", "addr", s.addr, "loops", s.cfg.Loops)
	s.logLimits() // ops: the limits in effect (logs.go)
	close(s.booted)
	go s.trimAfterWaves(s.ctx, defaultTrim)                 // trim.go
	if s.cfg.ConnsPerBackend > 0 && s.cfg.Listener == nil { // ops: in listener mode the accept loop kicks the loops (listener.go)
		go s.knock()
	}
	return gnet.None
}

// knock opens and closes one connection to the proxy's own listener. The
// loops do not run yet when OnBoot does, and gnet registers them without
// synchronisation, so Engine.Register may only be called once a loop has
// run a callback; the knock's OnOpen is the first one, and starts
// kickLoops.
func (s *Server) knock() {
	host, port, _ := net.SplitHostPort(s.addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), s.cfg.ConnectTimeout); err == nil {
		_ = c.Close()
	}
}

// OnShutdown stops the loops' tickers.
func (s *Server) OnShutdown(gnet.Engine) { s.cancel() }

// kickLoops makes every loop's state exist early, so that each pre-dials
// its backend connections: one connection per loop is dialed here and
// registered through the engine, whose round robin (used by nothing else,
// since with SO_REUSEPORT every loop accepts on its own) gives one to each
// loop. Its OnOpen creates the loop's state, which dials the rest from its
// ticker. It runs once, started from the first client OnOpen (the knock).
func (s *Server) kickLoops() {
	backends := s.cfg.Routes.Load().Backends()
	if len(backends) == 0 || s.cfg.ConnsPerBackend == 0 {
		return
	}
	for i := 0; i < s.cfg.Loops; i++ {
		b := backends[i%len(backends)]
		nc, err := net.DialTimeout("tcp", b.Addr, s.cfg.ConnectTimeout)
		if err != nil {
			continue // this loop starts on its first client instead
		}
		if !s.kickLoop(b, nc) {
			return
		}
	}
}

// kickLoop registers nc, a connection to b, through the engine; false when
// that failed and the kick is to stop.
func (s *Server) kickLoop(b *pool.Backend, nc net.Conn) bool {
	if !s.enrols.enter() {
		_ = nc.Close()
		return false
	}
	defer s.enrols.leave()
	be := &backendConn{b: b, sock: sock{fd: -1}}
	be.tm.be = be
	b.ConnOpened()
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), be), nc)
	ch, err := s.register(ctx) // ops: one caller of Engine.Register at a time (listener.go)
	if err != nil {
		_ = nc.Close()
		b.ConnClosed()
		return false
	}
	if res := <-ch; res.Err != nil {
		b.ConnClosed()
	}
	return true
}

// loopOf returns the state of the loop c belongs to, creating it the first
// time (on that loop's goroutine).
func (s *Server) loopOf(c gnet.Conn) *loop {
	el := c.EventLoop()
	s.loopsMu.Lock()
	l, ok := s.loops[el]
	if !ok {
		l = newLoop(s, el)
		s.loops[el] = l
		go l.runTicker(s.ctx)
	}
	s.loopsMu.Unlock()
	return l
}

// closeDetached closes the descriptors PILB holds itself (sockets off the
// loops) once the engine has stopped: gnet closed the rest.
func (s *Server) closeDetached() {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	for _, l := range s.loops {
		l.closeParkSet()
		l.closeWaitingReopens()
		for _, cl := range l.clients {
			if cl.sock.st == sockOff {
				cl.parked = 0
				_ = unix.Close(cl.sock.fd)
				cl.sock.st = sockClosed
			}
		}
		for _, be := range l.backends {
			if be.sock.st == sockOff {
				_ = unix.Close(be.sock.fd)
				be.sock.st = sockClosed
			}
		}
	}
}

// OnOpen takes accepted clients, and backend connections that finished
// dialing or come back from a pause.
func (s *Server) OnOpen(c gnet.Conn) (out []byte, action gnet.Action) {
	switch x := c.Context().(type) {
	case *backendConn:
		if x.l == nil { // registered by kickLoops
			x.l = s.loopOf(c)
			x.l.addBackend(x)
			x.l.dialing[x.b]++
			x.l.dials++
		}
		l := x.l
		l.enter(c)
		defer l.leave(x.cl, x, &action)
		l.backendOpened(x, c)
		return nil, gnet.None
	case *clientConn:
		l := x.l
		l.enter(c)
		defer l.leave(x, x.be, &action)
		l.clientReopened(x, c)
		return nil, gnet.None
	}
	if s.draining.Load() {
		return nil, gnet.Close
	}
	if s.clients.Load() >= int64(s.cfg.MaxClientConns) {
		s.ops.refused.Add(1) // ops: counted (metrics.go)
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("client refused: at MaxClientConns", "max", s.cfg.MaxClientConns)
		}
		return nil, gnet.Close
	}
	l := s.loopOf(c)
	s.kickOnce.Do(func() { go s.kickLoops() })
	cl := &clientConn{l: l, sock: sock{c: c, fd: -1, st: sockOn}}
	cl.tm.cl = cl
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		cl.ip = ip.Unmap()
	}
	s.clientAccepted(cl, c) // ops: trusted proxy or not (clientaddr.go)
	l.wheel.set(&cl.tm, l.now+int64(s.cfg.HeaderTimeout))
	c.SetContext(cl)
	l.addClient(cl)
	return nil, gnet.None
}

// OnTraffic is the entry of both paths of proxy.go.
func (s *Server) OnTraffic(c gnet.Conn) (action gnet.Action) {
	switch x := c.Context().(type) {
	case *clientConn:
		l := x.l
		l.enter(c)
		defer l.leave(x, x.be, &action)
		l.serveClient(x)
	case *backendConn:
		l := x.l
		l.enter(c)
		defer l.leave(x.cl, x, &action)
		l.serveBackend(x)
	default:
		return gnet.Close
	}
	return gnet.None
}

// OnClose hands a closed connection to its state machine.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		l := x.l
		l.enter(nil)
		defer l.leave(x, x.be, nil)
		l.onClientClose(x, c, err)
	case *backendConn:
		if l := x.l; l != nil {
			l.enter(nil)
			defer l.leave(x.cl, x, nil)
			l.onBackendClose(x, c, err)
		}
	}
	return gnet.None
}
