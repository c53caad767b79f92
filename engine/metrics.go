package engine

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilb-proxy/pilb/httpparse"
	"github.com/pilb-proxy/pilb/pool"
)

// Metrics.
//
// Each loop counts what it does in plain fields of its own (loopStats),
// written by the loop's goroutine only: a request costs one map lookup and
// a few increments, with no atomic operation and no cache line shared with
// another loop. A scrape runs a task on every loop (EventLoop.Execute)
// that copies its counters into a snapshot; the Collector sums the
// snapshots by label set. Gauges that the engine already keeps in atomics
// (open connections, a backend's state, requests in flight per backend,
// pauses, panics) are read directly.
//
// Labels are kept small: pool, backend (its id) and code class (1xx to
// 5xx, or none when the client got no status). Requests answered without
// a backend (503 when none is available, a queue timeout) have backend
// "none"; requests refused before they were routed (a malformed head, a
// header timeout) have pool "none" too, and are also counted by reason.

// noLabel is the label value of a pool or backend a request never had;
// no pool or backend can have that name (pool.CheckPoolName, control.CheckID).
const noLabel = pool.NoName

// durationBounds are the upper bounds of the request duration histogram's
// buckets, in nanoseconds: from half a millisecond (a proxied round trip on
// a LAN) to a minute (a slow upload).
var durationBounds = [...]int64{
	int64(500 * time.Microsecond), int64(time.Millisecond), int64(2500 * time.Microsecond),
	int64(5 * time.Millisecond), int64(10 * time.Millisecond), int64(25 * time.Millisecond),
	int64(50 * time.Millisecond), int64(100 * time.Millisecond), int64(250 * time.Millisecond),
	int64(500 * time.Millisecond), int64(time.Second), int64(2500 * time.Millisecond),
	int64(5 * time.Second), int64(10 * time.Second), int64(30 * time.Second), int64(time.Minute),
}

// numClasses counts the code classes: index 0 is "no status sent", 1 to 5
// are 1xx to 5xx.
const numClasses = 6

var classNames = [numClasses]string{noLabel, "1xx", "2xx", "3xx", "4xx", "5xx"}

func classOf(status int) int {
	if c := status / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

// Rejection reasons: why PILB refused a request without forwarding it.
const (
	rejOther = iota
	rejBadRequestLine
	rejBadHeader
	rejBareLF
	rejMissingHost
	rejDuplicateHost
	rejBadContentLength
	rejConflictingFraming
	rejTEInHTTP10
	rejTransferCoding
	rejVersion
	rejHeadTooLarge
	rejTooManyHeaders
	rejTargetTooLong
	rejBadChunk
	rejHeaderTimeout
	rejBodyTimeout
	rejIncompleteBody
	rejConnect
	rejProxyHeader
	numReasons
)

var reasonNames = [numReasons]string{
	rejOther: "other", rejBadRequestLine: "bad_request_line", rejBadHeader: "bad_header",
	rejBareLF: "bare_lf", rejMissingHost: "missing_host", rejDuplicateHost: "duplicate_host",
	rejBadContentLength: "bad_content_length", rejConflictingFraming: "conflicting_framing",
	rejTEInHTTP10: "transfer_encoding_http10", rejTransferCoding: "unsupported_transfer_coding",
	rejVersion: "unsupported_version", rejHeadTooLarge: "head_too_large",
	rejTooManyHeaders: "too_many_headers", rejTargetTooLong: "target_too_long",
	rejBadChunk: "bad_chunk", rejHeaderTimeout: "header_timeout", rejBodyTimeout: "body_timeout",
	rejIncompleteBody: "incomplete_body", rejConnect: "connect_method", rejProxyHeader: "proxy_header",
}

// reasonErrs maps the errors a rejection carries to their reason.
var reasonErrs = [...]struct {
	err    error
	reason int
}{
	{httpparse.ErrBadRequestLine, rejBadRequestLine}, {httpparse.ErrBadHeader, rejBadHeader},
	{httpparse.ErrBareLF, rejBareLF}, {httpparse.ErrMissingHost, rejMissingHost},
	{httpparse.ErrDuplicateHost, rejDuplicateHost}, {httpparse.ErrBadContentLength, rejBadContentLength},
	{httpparse.ErrConflictingFraming, rejConflictingFraming}, {httpparse.ErrTransferEncodingHTTP10, rejTEInHTTP10},
	{httpparse.ErrUnsupportedTransferCoding, rejTransferCoding}, {httpparse.ErrUnsupportedVersion, rejVersion},
	{httpparse.ErrHeadTooLarge, rejHeadTooLarge}, {httpparse.ErrTooManyHeaders, rejTooManyHeaders},
	{httpparse.ErrTargetTooLong, rejTargetTooLong}, {httpparse.ErrBadChunk, rejBadChunk},
	{ErrHeaderTimeout, rejHeaderTimeout}, {ErrBodyTimeout, rejBodyTimeout},
	{ErrIncompleteBody, rejIncompleteBody}, {ErrProxyHeader, rejProxyHeader},
}

func reasonOf(code int, err error) int {
	if err == nil && code == 501 {
		return rejConnect // the one rejection without an error (startExchange)
	}
	for _, r := range reasonErrs {
		if r.err == err {
			return r.reason
		}
	}
	return rejOther
}

// poolCounters are one loop's counters of one pool.
type poolCounters struct {
	noBackend [numClasses]uint64 // requests answered without a backend
	retries   uint64             // tries after the first
	durCount  uint64
	durSum    int64                       // nanoseconds
	durBucket [len(durationBounds)]uint64 // not cumulative; the last bound's overflow is durCount less their sum

	queued        uint64 // requests that waited in the pool's queue
	queueFull     uint64 // requests refused: the queue was full
	queueTimeouts uint64 // requests that waited QueueTimeout in vain
}

func (pc *poolCounters) observe(d time.Duration) {
	pc.durCount++
	pc.durSum += int64(d)
	for i, ub := range durationBounds {
		if int64(d) <= ub {
			pc.durBucket[i]++
			return
		}
	}
}

func (pc *poolCounters) add(o *poolCounters) {
	for i := range pc.noBackend {
		pc.noBackend[i] += o.noBackend[i]
	}
	pc.retries += o.retries
	pc.durCount += o.durCount
	pc.durSum += o.durSum
	for i := range pc.durBucket {
		pc.durBucket[i] += o.durBucket[i]
	}
	pc.queued += o.queued
	pc.queueFull += o.queueFull
	pc.queueTimeouts += o.queueTimeouts
}

// backendCounters are one loop's counters of one backend.
type backendCounters struct {
	pool      *poolCounters // of the backend's pool, on the same loop
	requests  [numClasses]uint64
	ejections uint64
}

func (bc *backendCounters) add(o *backendCounters) {
	for i := range bc.requests {
		bc.requests[i] += o.requests[i]
	}
	bc.ejections += o.ejections
}

// backendKey is a backend's labels.
type backendKey struct{ pool, id string }

func keyOf(b *pool.Backend) backendKey { return backendKey{poolName(b.Pool), b.ID} }

func poolName(name string) string {
	if name == "" {
		return pool.DefaultPool
	}
	return name
}

// loopStats is one loop's counters; only the loop's goroutine touches it.
type loopStats struct {
	pools    map[string]*poolCounters
	backends map[*pool.Backend]*backendCounters
	// retired keeps the counts of backends that left the routing table
	// while another backend with the same labels is in it (an id moved to
	// a new address): the series goes on rather than dropping back.
	retired map[backendKey]*backendCounters

	inFlight       int64 // requests between head and end
	bytesIn        uint64
	bytesOut       uint64
	rejects        [numReasons]uint64
	warnSuppressed uint64
}

func (s *loopStats) pool(name string) *poolCounters {
	pc := s.pools[name]
	if pc == nil {
		if s.pools == nil {
			s.pools = make(map[string]*poolCounters)
		}
		pc = &poolCounters{}
		s.pools[name] = pc
	}
	return pc
}

func (s *loopStats) backend(b *pool.Backend) *backendCounters {
	bc := s.backends[b]
	if bc == nil {
		if s.backends == nil {
			s.backends = make(map[*pool.Backend]*backendCounters)
		}
		bc = &backendCounters{pool: s.pool(poolName(b.Pool))}
		s.backends[b] = bc
	}
	return bc
}

// count records the end of a request routed to p (nil: never routed),
// answered by b (nil: by PILB) with status after tries tries.
func (s *loopStats) count(p *pool.Pool, b *pool.Backend, status int, d time.Duration, tries int) {
	class := classOf(status)
	var pc *poolCounters
	if b != nil {
		bc := s.backend(b)
		bc.requests[class]++
		pc = bc.pool
	} else {
		name := noLabel
		if p != nil {
			name = p.Name()
		}
		pc = s.pool(name)
		pc.noBackend[class]++
	}
	pc.observe(d)
	if tries > 1 {
		pc.retries += uint64(tries - 1)
	}
}

// loopSnapshot is a copy of a loop's counters, and of what its pool holds
// idle, taken on the loop for a scrape.
type loopSnapshot struct {
	pools          map[string]poolCounters
	backends       map[backendKey]backendCounters
	idle           map[backendKey]int
	inFlight       int64
	bytesIn        uint64
	bytesOut       uint64
	rejects        [numReasons]uint64
	warnSuppressed uint64
}

// snapshot copies the loop's counters, and forgets backends that left the
// routing table and have no connection left (see loopStats.retired). It
// runs on the loop.
func (l *loop) snapshot() loopSnapshot {
	s := &l.ops.stats
	table := l.cfg.Routes.Load()
	live := make(map[backendKey]bool, len(table.Backends()))
	for _, b := range table.Backends() {
		live[keyOf(b)] = true
	}
	for b, bc := range s.backends {
		if table.Contains(b) || b.Conns() > 0 {
			continue
		}
		delete(s.backends, b)
		if k := keyOf(b); live[k] {
			if s.retired == nil {
				s.retired = make(map[backendKey]*backendCounters)
			}
			r := s.retired[k]
			if r == nil {
				r = &backendCounters{}
				s.retired[k] = r
			}
			r.add(bc)
		}
	}
	for k := range s.retired {
		if !live[k] {
			delete(s.retired, k)
		}
	}

	snap := loopSnapshot{
		pools:    make(map[string]poolCounters, len(s.pools)),
		backends: make(map[backendKey]backendCounters, len(s.backends)+len(s.retired)),
		idle:     make(map[backendKey]int, len(table.Backends())),
		inFlight: s.inFlight, bytesIn: s.bytesIn, bytesOut: s.bytesOut,
		rejects: s.rejects, warnSuppressed: s.warnSuppressed,
	}
	for name, pc := range s.pools {
		snap.pools[name] = *pc
	}
	for b, bc := range s.backends {
		k := keyOf(b)
		sum := snap.backends[k]
		sum.add(bc)
		snap.backends[k] = sum
	}
	for k, r := range s.retired {
		sum := snap.backends[k]
		sum.add(r)
		snap.backends[k] = sum
	}
	for _, b := range table.Backends() {
		if n := l.pool.Idle(b); n > 0 {
			snap.idle[keyOf(b)] += n
		}
	}
	return snap
}

// scrapeTimeout bounds how long a scrape waits for a loop's snapshot; a
// loop that does not answer in time (busy, or stopped) is reported with
// its last snapshot.
const scrapeTimeout = 2 * time.Second

// metricsState is the server's side of the metrics: the last snapshot of
// each loop, for loops that cannot answer a scrape.
type metricsState struct {
	mu   sync.Mutex // one scrape at a time
	last map[*loop]loopSnapshot
}

// scrape returns every loop's snapshot, taken on the loops.
func (s *Server) scrape() []loopSnapshot {
	s.ops.metrics.mu.Lock()
	defer s.ops.metrics.mu.Unlock()
	s.loopsMu.Lock()
	loops := make([]*loop, 0, len(s.loops))
	for _, l := range s.loops {
		loops = append(loops, l)
	}
	s.loopsMu.Unlock()
	if s.ops.metrics.last == nil {
		s.ops.metrics.last = make(map[*loop]loopSnapshot)
	}

	type result struct {
		l    *loop
		snap loopSnapshot
	}
	ch := make(chan result, len(loops))
	asked := 0
	for _, l := range loops {
		if l.exec(func() { ch <- result{l, l.snapshot()} }) {
			asked++
		}
	}
	timeout := time.NewTimer(scrapeTimeout)
	defer timeout.Stop()
wait:
	for ; asked > 0; asked-- {
		select {
		case r := <-ch:
			s.ops.metrics.last[r.l] = r.snap
		case <-timeout.C:
			break wait
		}
	}
	out := make([]loopSnapshot, 0, len(s.ops.metrics.last))
	for _, snap := range s.ops.metrics.last {
		out = append(out, snap)
	}
	return out
}

// Collector returns a prometheus.Collector of the server's metrics, for
// a registry the caller serves (cmd/pilb serves it on the admin API's
// /metrics). Every scrape takes a snapshot of each loop's counters.
func (s *Server) Collector() prometheus.Collector { return &collector{s: s} }

type collector struct{ s *Server }

// The metrics' descriptions. Names carry their unit (_seconds, _bytes)
// and counters end in _total (Prometheus naming conventions).
var (
	descRequests = prometheus.NewDesc("pilb_requests_total",
		"Requests ended, by pool, backend (none: answered by PILB) and code class (none: no status sent).",
		[]string{"pool", "backend", "code"}, nil)
	descDuration = prometheus.NewDesc("pilb_request_duration_seconds",
		"Time from a request's head to the end of its response, by pool.", []string{"pool"}, nil)
	descInFlight = prometheus.NewDesc("pilb_requests_in_flight",
		"Requests between their head and the end of their response.", nil, nil)
	descRetries = prometheus.NewDesc("pilb_retries_total",
		"Requests sent again to another connection or backend after a failure, by pool.", []string{"pool"}, nil)
	descClients = prometheus.NewDesc("pilb_client_connections",
		"Open client connections.", nil, nil)
	descClientsParked = prometheus.NewDesc("pilb_client_connections_parked",
		"Idle keep-alive client connections parked off the event loops (-park-after), part of pilb_client_connections.", nil, nil)
	descClientParks = prometheus.NewDesc("pilb_client_parks_total",
		"Times an idle keep-alive client connection was parked off its event loop (-park-after), since start.", nil, nil)
	descClientsMax = prometheus.NewDesc("pilb_client_connections_limit",
		"Most client connections PILB keeps open (-max-conns, or its default from the descriptor limit).", nil, nil)
	descRefused = prometheus.NewDesc("pilb_client_connections_refused_total",
		"Client connections closed at accept because the limit was reached.", nil, nil)
	descBytesIn = prometheus.NewDesc("pilb_client_received_bytes_total",
		"Bytes of requests taken from clients: heads, bodies and tunnel bytes.", nil, nil)
	descBytesOut = prometheus.NewDesc("pilb_client_sent_bytes_total",
		"Bytes written to clients: heads, bodies and tunnel bytes.", nil, nil)
	descBackendConns = prometheus.NewDesc("pilb_backend_connections",
		"Open connections to a backend, busy and idle, every loop together.", []string{"pool", "backend"}, nil)
	descBackendIdle = prometheus.NewDesc("pilb_backend_idle_connections",
		"Idle keep-alive connections to a backend in the loops' pools.", []string{"pool", "backend"}, nil)
	descBackendInFlight = prometheus.NewDesc("pilb_backend_requests_in_flight",
		"Requests in flight on a backend, every loop together.", []string{"pool", "backend"}, nil)
	descBackendState = prometheus.NewDesc("pilb_backend_state",
		"1 for the backend's state: up, down (failing health checks), ejected (passive back-off) or draining.",
		[]string{"pool", "backend", "state"}, nil)
	descBackendFull = prometheus.NewDesc("pilb_backend_full",
		"1 while the backend is at its -max-conns-per-backend cap.", []string{"pool", "backend"}, nil)
	descEjections = prometheus.NewDesc("pilb_backend_ejections_total",
		"Passive ejections of a backend after failed connects or response timeouts.", []string{"pool", "backend"}, nil)
	descRejections = prometheus.NewDesc("pilb_parse_rejections_total",
		"Requests refused before any backend saw them, by reason.", []string{"reason"}, nil)
	descPauses = prometheus.NewDesc("pilb_flow_control_pauses_total",
		"Sockets taken off a loop because their peer was not keeping up.", nil, nil)
	descPanics = prometheus.NewDesc("pilb_recovered_panics_total",
		"Panics recovered on the event loops; each cost one connection pair, and any is a bug.", nil, nil)
	descSuppressed = prometheus.NewDesc("pilb_warn_logs_suppressed_total",
		"Warning lines (PILB's own error answers, ejections) not written by the rate limit.", nil, nil)
	descLogLines = prometheus.NewDesc("pilb_access_log_lines_total",
		"Access log lines written.", nil, nil)
	descLogDropped = prometheus.NewDesc("pilb_access_log_dropped_total",
		"Access log lines dropped because the writer was behind and a loop's buffer was full.", nil, nil)
	descQueued = prometheus.NewDesc("pilb_queue_requests_total",
		"Requests that waited in their pool's queue for a backend slot (-max-conns-per-backend).", []string{"pool"}, nil)
	descQueueFull = prometheus.NewDesc("pilb_queue_full_total",
		"Requests answered 503 because their pool's queue was full (-max-queue).", []string{"pool"}, nil)
	descQueueTimeouts = prometheus.NewDesc("pilb_queue_timeouts_total",
		"Requests answered 503 after waiting -queue-timeout for a backend slot.", []string{"pool"}, nil)
	descQueueWaiting = prometheus.NewDesc("pilb_queue_waiting_requests",
		"Requests waiting in their pool's queue now.", []string{"pool"}, nil)
)

var allDescs = []*prometheus.Desc{
	descRequests, descDuration, descInFlight, descRetries, descClients, descClientsParked, descClientParks, descClientsMax, descRefused,
	descBytesIn, descBytesOut, descBackendConns, descBackendIdle, descBackendInFlight, descBackendState,
	descBackendFull, descEjections, descRejections, descPauses, descPanics, descSuppressed,
	descLogLines, descLogDropped, descQueued, descQueueFull, descQueueTimeouts, descQueueWaiting,
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	snaps := s.scrape()
	pools := map[string]*poolCounters{}
	backends := map[backendKey]*backendCounters{}
	idle := map[backendKey]int{}
	var total loopSnapshot
	for _, sn := range snaps {
		for name, pc := range sn.pools {
			sum := pools[name]
			if sum == nil {
				sum = &poolCounters{}
				pools[name] = sum
			}
			sum.add(&pc)
		}
		for k, bc := range sn.backends {
			sum := backends[k]
			if sum == nil {
				sum = &backendCounters{}
				backends[k] = sum
			}
			sum.add(&bc)
		}
		for k, n := range sn.idle {
			idle[k] += n
		}
		total.inFlight += sn.inFlight
		total.bytesIn += sn.bytesIn
		total.bytesOut += sn.bytesOut
		total.warnSuppressed += sn.warnSuppressed
		for i := range total.rejects {
			total.rejects[i] += sn.rejects[i]
		}
	}

	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	// Every backend of the table has its series, at zero before its first
	// request, so that a rate over a fresh backend is defined.
	now := time.Now().UnixNano()
	for _, b := range s.cfg.Routes.Load().Backends() {
		k := keyOf(b)
		if backends[k] == nil {
			backends[k] = &backendCounters{}
		}
		gauge(descBackendConns, float64(b.Conns()), k.pool, k.id)
		gauge(descBackendIdle, float64(idle[k]), k.pool, k.id)
		gauge(descBackendInFlight, float64(b.InUse()), k.pool, k.id)
		state := backendState(b, now)
		for _, st := range [...]string{"up", "down", "ejected", "draining"} {
			gauge(descBackendState, b2f(st == state), k.pool, k.id, st)
		}
		gauge(descBackendFull, b2f(b.Full()), k.pool, k.id)
	}
	for k, bc := range backends {
		for class, n := range bc.requests {
			if n > 0 || class == 2 {
				counter(descRequests, float64(n), k.pool, k.id, classNames[class])
			}
		}
		counter(descEjections, float64(bc.ejections), k.pool, k.id)
	}
	for name, pc := range pools {
		for class, n := range pc.noBackend {
			if n > 0 {
				counter(descRequests, float64(n), name, noLabel, classNames[class])
			}
		}
		counter(descRetries, float64(pc.retries), name)
		if name != noLabel {
			counter(descQueued, float64(pc.queued), name)
			counter(descQueueFull, float64(pc.queueFull), name)
			counter(descQueueTimeouts, float64(pc.queueTimeouts), name)
		}
		buckets := make(map[float64]uint64, len(durationBounds))
		var cum uint64
		for i, ub := range durationBounds {
			cum += pc.durBucket[i]
			buckets[time.Duration(ub).Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, pc.durCount, time.Duration(pc.durSum).Seconds(), buckets, name)
	}
	for _, p := range s.cfg.Routes.Load().Pools() {
		gauge(descQueueWaiting, float64(s.queueLen(p.Name())), p.Name())
	}
	gauge(descInFlight, float64(total.inFlight))
	gauge(descClients, float64(s.clients.Load()))
	gauge(descClientsParked, float64(s.parked.Load()))
	counter(descClientParks, float64(s.parks.Load()))
	gauge(descClientsMax, float64(s.cfg.MaxClientConns))
	counter(descRefused, float64(s.ops.refused.Load()))
	counter(descBytesIn, float64(total.bytesIn))
	counter(descBytesOut, float64(total.bytesOut))
	for r, n := range total.rejects {
		counter(descRejections, float64(n), reasonNames[r])
	}
	counter(descPauses, float64(s.pauses.Load()))
	counter(descPanics, float64(s.panics.Load()))
	counter(descSuppressed, float64(total.warnSuppressed))
	if a := s.cfg.AccessLog; a != nil {
		lines, dropped := a.Counts()
		counter(descLogLines, float64(lines))
		counter(descLogDropped, float64(dropped))
	}
}

// backendState names b's state at now as the admin API does: draining
// first, then down, ejected, up.
func backendState(b *pool.Backend, now int64) string {
	switch {
	case b.Draining():
		return "draining"
	case !b.Healthy():
		return "down"
	case b.Ejected(now):
		return "ejected"
	}
	return "up"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
