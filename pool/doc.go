// Package pool is PILB's backend layer: backends and their health, backend
// sets, balancers, per-event-loop keep-alive connection pools and an active
// health checker. It knows nothing of HTTP or gnet (Pingora keeps
// pingora-pool and pingora-load-balancing free of the proxy): connections are
// a type parameter and health probes are injected functions.
//
// Concurrency model. One Set per backend pool is shared by every event loop;
// loops read it through Snapshot without locks (copy-on-write). A Backend's
// mutable state is atomics, so any loop may pick it, report failures and
// count connections on it. A ConnPool belongs to exactly one event loop and
// is not safe for concurrent use.
//
// Clock. The hot path never calls time.Now: every time-dependent method
// takes now, in Unix nanoseconds, from the caller, which reads the clock once
// per event (for gnet, once per OnTraffic or ticker call) and passes the same
// value to Pick, Set.ReportFailure, ConnPool.Put and so on. Tests inject any now
// they like, so back-off and expiry tests need no sleeps.
//
// Health has three words, as in Caddy: Healthy (active probes say so),
// Available (healthy, not passively ejected, not draining) and Full (at its
// concurrent-request cap). A balancer picks only backends that are Available
// and not Full.
package pool
