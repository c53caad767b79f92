package engine

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/pilb-proxy/pilb/pool"
)

// This file holds what operating PILB adds to the engine: its part of
// Config, and the per-loop and per-connection state the other ops files
// keep (metrics.go, accesslog.go, logs.go). The engine's own files reach
// it through small hooks, each marked "ops:".

// Operations is the part of Config about running PILB in production:
// metrics, the access log. It is embedded in Config, so its fields read as
// Config's own (cfg.Metrics).
type Operations struct {
	// Metrics turns on the per-loop request counters that Server.Collector
	// exports (requests, durations, bytes, rejections). Off, a request
	// counts nothing, and Collector exports only what costs nothing to
	// keep: connections, backend state, pauses and panics.
	Metrics bool

	// AccessLog, when not nil, receives one record per request, written
	// off the loops (accesslog.go). The engine does not close it.
	AccessLog *AccessLog

	// MonitorURI, when not empty, is a path PILB answers itself on the
	// listener, for the load balancer in front of it: 200 while
	// MonitorPool has an available backend, 503 when it has none or PILB
	// is draining (monitor.go). It must start with "/"; the query is
	// ignored.
	MonitorURI string
	// MonitorPool is the pool the monitor URI and Server.Health watch;
	// empty means the default pool.
	MonitorPool string

	// ProxyProtocol requires a PROXY protocol header (v1 or v2) at the
	// start of every client connection, and takes the client's address
	// from it; a connection without a valid one is reset (clientaddr.go).
	ProxyProtocol bool

	// TrustedProxies are the client addresses whose X-Forwarded-Proto is
	// kept; from any other, it is replaced by Proto (clientaddr.go).
	TrustedProxies []netip.Prefix

	// Listener, when not nil (a *net.TCPListener), is where PILB accepts
	// clients itself, handing them to the loops, instead of gnet binding
	// Addr (set Addr to its address). Its socket can then be shared with
	// another process for a restart that loses nothing (listener.go).
	Listener net.Listener

	// DrainIdleGrace is how long, once Shutdown starts, an idle keep-alive
	// client has to send its next request (answered with Connection:
	// close) before it is closed; 0 closes idle clients at once.
	DrainIdleGrace time.Duration

	// QueueTimeout, when positive, makes a request wait, in arrival order,
	// for a slot when every available backend of its pool is at its cap
	// (pool.Backend.MaxConns), at most this long (then 503); 0 answers 503
	// at once (queue.go).
	QueueTimeout time.Duration
	// MaxQueue bounds the requests waiting per pool; past it, 503 at once.
	// 0 means DefaultMaxQueue.
	MaxQueue int
}

// DefaultMaxQueue is MaxQueue's default: a thousand clients waiting on one
// pool is already a backlog of seconds at most backends' rates.
const DefaultMaxQueue = 1024

// check validates the Operations fields and fills their defaults.
func (o *Operations) check() error {
	if o.AccessLog != nil && o.AccessLog.closed.Load() {
		return fmt.Errorf("%w: access log is closed", ErrConfig)
	}
	if o.MonitorURI != "" && o.MonitorURI[0] != '/' {
		return fmt.Errorf("%w: monitor URI %q must start with /", ErrConfig, o.MonitorURI)
	}
	if o.DrainIdleGrace < 0 {
		return fmt.Errorf("%w: drain idle grace %v is negative", ErrConfig, o.DrainIdleGrace)
	}
	if o.QueueTimeout < 0 || o.MaxQueue < 0 {
		return fmt.Errorf("%w: queue timeout %v or max queue %d is negative", ErrConfig, o.QueueTimeout, o.MaxQueue)
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	return checkListener(o.Listener)
}

// serverOps is the server's operations state.
type serverOps struct {
	metrics  metricsState
	refused  atomic.Int64 // clients closed at accept: at MaxClientConns
	acceptor acceptor     // listener mode (listener.go)
	queues   sync.Map     // pool name -> *poolQueue (queue.go)
}

// loopOps is a loop's operations state, touched by the loop's goroutine
// only (a scrape reads it through a task run on the loop).
type loopOps struct {
	stats loopStats
	warn  warnLimiter
	ring  *logRing // this loop's access log ring; nil until its first record
}

// clientOps is a client connection's operations flags: three bytes that
// sit among clientConn's other flags (its queue waiter is clientConn.qw,
// its request's record in its exchange).
type clientOps struct {
	proxied bool // its PROXY protocol header has been read
	trusted bool // its address is in TrustedProxies
	queued  bool // its request waits in its pool's queue (queue.go)
}

// reqRecord is the request of an exchange as the metrics and the access log
// see it, from its head to its end.
type reqRecord struct {
	open   bool
	status int32                      // the status sent to the client; 0: none yet
	start  int64                      // when the head was parsed (monoNow)
	in     int64                      // bytes of the request taken from the client: head, body, tunnel
	out    int64                      // bytes written to the client: heads and bodies
	b      *pool.Backend              // the backend of the last try; nil: none was picked
	line   *bytebufferpool.ByteBuffer // method SP target, for the access log; nil when it is off
}
