// Package pool is PILB's backend layer: backends and their health, backend
// sets, pools and the routes to them, balancers, per-event-loop keep-alive
// connection pools and an active health checker. It knows nothing of HTTP
// parsing or gnet (Pingora keeps pingora-pool and pingora-load-balancing
// free of the proxy): routes match the Host and target bytes the engine
// hands them, connections are a type parameter and health probes are
// injected functions.
//
// Concurrency model. The control plane publishes every pool (its backends
// and its balancer) and the routes between them as an immutable Table
// through Routes; a loop loads the Table once per request, routes it to a
// Pool (Table.Route, by Host and path) and picks in it, without a lock
// (copy-on-write: a change is a new Table). A Set is the older one-pool
// form, which FollowSet turns into Routes. A Backend's mutable state is
// atomics, so any loop may pick it, report failures and count connections
// on it. A ConnPool belongs to exactly one event loop and is not safe for
// concurrent use.
//
// Balancers, one file each: RoundRobin, Weighted (nginx's smooth weighted
// round robin), LeastConn and P2C (power of two random choices). Each is
// shared by the loops, allocates nothing per pick, and is built for a pool
// by NewBalancer from a policy name.
//
// Clock. The hot path never calls time.Now: every time-dependent method
// takes now, in Unix nanoseconds, from the caller, which reads the clock once
// per event (for gnet, once per OnTraffic or ticker call) and passes the same
// value to Pick, Pool.ReportFailure, ConnPool.Put and so on. Tests inject any now
// they like, so back-off and expiry tests need no sleeps.
//
// Health has three words, as in Caddy: Healthy (active probes say so),
// Available (healthy, not passively ejected, not draining) and Full (at its
// concurrent-request cap). A balancer picks only backends that are Available
// and not Full.
package pool
