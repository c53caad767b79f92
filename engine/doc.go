// Package engine is PILB's data plane: a gnet/v2 EventHandler that proxies
// HTTP/1.1 from clients to backends.
//
// # Loops
//
// gnet runs one event loop per core (Config.Loops), each accepting on its
// own SO_REUSEPORT listener. A loop owns everything its clients touch: their
// state, the backend connections serving them, a keep-alive pool of idle
// backend connections (pool.ConnPool) and scratch buffers for parsing and
// writing heads. Backend connections are dialed off the loop (a goroutine
// with Config.ConnectTimeout) and enrolled on the loop of the client that
// needs them, so both ends of an exchange live on one goroutine: no locks,
// no AsyncWrite, no cross-loop wake-ups on the hot path. The only shared
// state a request touches is the backend set snapshot and the balancer's
// atomic counter. Each loop pre-dials Config.ConnsPerBackend connections to
// every backend and keeps that many dialed.
//
// # An exchange
//
// proxy.go holds the hot path. The client's OnTraffic parses the request
// head in place (httpparse, zero-copy), writes the upstream head once into a
// per-client buffer (hop-by-hop fields dropped, X-Forwarded-For,
// X-Forwarded-Proto and Via added, framing rewritten), picks a backend
// (pool.Balancer, per request) and writes head and body to a pooled
// connection in one write. The backend's OnTraffic parses the response head,
// writes the client's head (and a small body with it), then forwards body
// bytes as they arrive: verbatim, or de-chunked for an HTTP/1.0 client. One
// request per client is upstream at a time; pipelined requests wait in the
// client's input buffer until the previous response is complete.
//
// A request is retried on another connection or backend only when nothing of
// the response has arrived and the request is kept whole (body up to
// maxRetainedBody): after a connect failure always, after a pooled
// connection turned out dead only for idempotent methods (RFC 9112 §9.3.1).
// Failed connects eject the backend for a back-off (pool.Backend).
//
// # Bounded memory
//
// gnet has neither pause-read nor a drain callback: it reads every readable
// socket and buffers what OnTraffic leaves, and it buffers output without
// limit. PILB bounds both directions with Config.HighWater: when a peer's
// pending output passes it, the fast side's socket is detached from the
// loop (dup, then gnet close) so the kernel's TCP window pushes back on the
// sender, and it is enrolled on the same loop again once the slow side has
// drained below a quarter of the mark. The loop's ticker polls the drain,
// every millisecond while anything waits on one. pause.go explains the
// details; pipelined input past HighWater is paused the same way.
//
// # Closing
//
// A client that PILB closes after its last response (Connection: close, an
// error, a close-delimited body) is closed lingering: once its output has
// drained the write side is shut down and its input discarded until it
// closes or Config.LingerTimeout passes, so that the response is not lost
// to a reset. A response that cannot be completed (the backend died, a
// malformed chunk) closes the client at once, so a truncated response never
// looks complete. gnet closes a connection on EOF, so a client that
// half-closes after its request loses the response; HTTP/1.1 clients do
// not do that.
//
// # Timeouts and drain
//
// Each loop's ticker (tickSlow) enforces the header, idle, backend and
// linger deadlines, expires idle pooled connections and re-dials the
// pre-dialed ones. Server.Shutdown closes idle clients, lets requests in
// flight finish with Connection: close, closes connections accepted during
// the drain at once, and stops the engine when no client is left.
package engine
