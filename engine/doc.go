// Package engine is PILB's data plane: a gnet/v2 EventHandler that proxies
// HTTP/1.1 from clients to backends.
//
// # Loops
//
// gnet runs one event loop per core (Config.Loops), each accepting on its
// own SO_REUSEPORT listener. A loop owns everything its clients touch: their
// state, the backend connections serving them, a keep-alive pool of idle
// backend connections (pool.ConnPool), a wheel of deadlines and scratch
// buffers for parsing and writing heads. Backend connections are dialed off
// the loop (a goroutine with Config.ConnectTimeout) and enrolled on the loop
// of the client that needs them, so both ends of an exchange live on one
// goroutine: no locks, no AsyncWrite, no cross-loop wake-ups on the hot
// path. The only shared state a request touches is the routing table the
// control plane publishes (one atomic load: pool.Routes) and its pool's
// balancer. Each loop pre-dials
// Config.ConnsPerBackend connections to every backend and keeps that many.
//
// # An exchange
//
// proxy.go holds the hot path. The client's OnTraffic parses the request
// head in place (httpparse, zero-copy), writes the upstream head once into a
// per-client buffer (hop-by-hop fields dropped, X-Forwarded-For,
// X-Forwarded-Proto and Via added, framing rewritten), routes it to a pool
// by Host and path, picks a backend there (per request) and writes head and body to a pooled
// connection in one write. The backend's OnTraffic parses the response head,
// writes the client's head (and a small body with it), then forwards body
// bytes as they arrive: verbatim, or de-chunked for an HTTP/1.0 client. One
// request per client is upstream at a time; pipelined requests wait in the
// client's input until the previous response is complete.
//
// Each connection has two explicit states, with their legal transitions in
// tables that every move is checked against (conn.go, sock.go): its phase
// in HTTP terms (a client is idle, reading a head, in an exchange, a
// tunnel, closing, lingering, aborting or closed), and where its socket is
// (dialing, on the loop, off it, being re-enrolled, closed).
//
// A request is retried on another connection or backend only when nothing of
// the response has arrived and the request is kept whole (body up to
// maxRetainedBody): after a connect failure always, and after a pooled
// connection turned out dead (the keep-alive race) for idempotent methods
// only (RFC 9112 §9.3.1). A fresh connection that takes a request and
// closes without answering says something about the request: 502, no
// retry, and the backend is not blamed. Connect failures and response
// timeouts count towards a backend's passive ejection (pool.Pool).
//
// # What gnet does not do, and how PILB makes up for it
//
// gnet v2.9.7 is fast and small, and leaves a proxy a few gaps; each is
// bridged with its public API only.
//
//   - No pause-read. A registered connection is read whenever it is
//     readable and what OnTraffic leaves is buffered without limit (the
//     maintainer declined pause-read: gnet issues #713, #722, #764). PILB
//     takes a socket off the loop to stop reading it: Conn.Dup, then close
//     the gnet connection (OnClose sees the socket marked off and keeps the
//     state); the kernel's receive buffer fills and TCP pushes back. The
//     duplicate goes back with EventLoop.Enroll. pause.go says when.
//   - No writes to a socket gnet does not hold. A socket off the loop is
//     written with write(2) directly; what the kernel does not take is held
//     and flushed by the drain poll (sock.go). So a response never waits for
//     its client to be read again, and bytes a backend sent are never lost
//     because their client was paused.
//   - No drain callback. The loop polls what waits on a drain (a paused
//     peer, a closing client, held output): only those connections, every
//     millisecond after a change, backing off to tickSlow while nothing
//     moves.
//   - Close with pending output can cut it short (one writev attempt). A
//     socket is never taken off the loop with output in gnet; a client is
//     closed only once gnet's output has drained (closing, lingering), and
//     a client whose response was cut is reset only once what it is owed
//     has been sent and acknowledged (aborting), so that earlier complete
//     responses arrive whole and the cut one shows as cut.
//   - Close on EOF, no half-close. A client that ends its output after its
//     request (shutdown(SHUT_WR)) is kept: in OnClose, before gnet closes
//     the descriptor, the socket is duplicated and the response written to
//     the duplicate; unread pipelined requests are served too. When gnet
//     still holds output the socket cannot take at that moment, it would be
//     lost: the connection is reset instead, so the cut shows.
//   - OnClose runs inside Write when a write fails, in the writer's call
//     stack, which may be handling the peer. OnClose only marks the
//     connection gone and queues its teardown, which runs when the
//     outermost callback leaves (guard.go); after a write, code checks that
//     the connection it wrote to is alive. The connection whose OnTraffic
//     runs is closed through the action it returns, never under gnet.
//   - A panic in a callback would stop the loop and every connection on it.
//     Every way into a loop recovers: the pair concerned is closed, the
//     panic counted (Server.Panics) and its stack logged once per site.
//   - Enroll panics inside its worker pool for a socket whose peer is
//     already gone (no remote address), and the pool swallows the panic: the
//     result channel closes without a result. PILB checks the address first
//     and treats a missing result as a failure. When epoll_ctl refuses the
//     descriptor, Enroll closes it and still reports success, without an
//     OnOpen: a task queued after the result fails a socket still dialing
//     or reopening (sock.go, enroll).
//   - Engine.Stop drops the registrations queued on a loop behind its stop
//     task, and Enroll takes them until the loops have returned: the
//     enrolment waiting for one never ends, and its goroutine and two
//     descriptors of the socket leak. Every enrolment passes a gate
//     (stopgate.go); Shutdown closes it, which refuses new ones, and waits
//     for those under way before it stops the engine.
//   - No way to register a socket whose connect is in progress (Enroll
//     needs a connected net.Conn). Each connect is a goroutine that dials
//     and enrolls; a loop runs at most maxDials of them, more wait in line
//     with their request held, and a connection that goes idle is handed
//     to the oldest waiting request instead (dial.go): a burst of new
//     clients costs neither a goroutine each nor a dial each.
//   - OnTick runs on one goroutine for the whole engine, not on the loops.
//     Each loop has its own ticker goroutine that queues a tick with
//     Execute: every tickSlow, or at the drain poll's period.
//   - No per-connection timers. Deadlines (header, idle, body, backend,
//     linger, tunnel) live in a hashed timing wheel per loop (timer.go): a
//     tick touches only what is due, whatever the number of connections.
//   - A registered connection costs gnet about 0.5 KiB however idle it is,
//     and gnet has no way to watch a socket for input without owning it. A
//     keep-alive client idle for Config.ParkAfter is parked (park.go): its
//     socket leaves gnet as in a pause, into an epoll set of the loop's own
//     (EPOLLONESHOT), whose descriptor the Go runtime's poller waits on; the
//     client's next byte puts the socket back on the loop (Execute, then
//     Enroll), where gnet reads what came; a FIN or reset with nothing
//     before it is closed on the loop without going back to gnet.
//   - Enroll costs a goroutine of gnet's worker pool until the loop has
//     registered the connection, and the pool keeps it 10 s after. The
//     accept loop keeps at most maxPendingEnrols enrolments under way, so
//     that a burst of connections leaves a bounded number behind; a loop
//     puts at most maxReopens off-loop sockets back at once (sock.go), the
//     rest waiting their turn, so that a crowd of parked clients waking
//     together costs no goroutines by the thousand.
//   - One listener cannot be stopped without stopping the engine: see
//     Server.Shutdown for the drain. With Config.Listener (what cmd/pilb
//     runs), PILB accepts on a socket of its own and hands connections to
//     the loops (Enroll): stopping is closing it, and the socket can pass
//     to another process for a restart that loses nothing (listener.go).
//
// # Bounded memory
//
// Memory is bounded per connection. Past Config.HighWater of output waiting
// for a slow peer, PILB stops reading the fast side (pause.go); and nothing
// a connection holds in PILB (unread input, output, a dial's request) may
// pass twice HighWater plus one read: a peer that neither reads nor stops
// sending, so that no pause can take, is reset. An idle keep-alive client
// is parked off gnet after Config.ParkAfter, leaving PILB's own state for
// it (clientConn) and a slot in its loop's park set; once a wave of parks
// or closes is over, the memory it freed goes back to the system
// (trim.go).
//
// # Closing
//
// A client that PILB closes after its last response (Connection: close, an
// error, a close-delimited body) is closed lingering: once its output has
// drained the write side is shut down and its input discarded until it
// closes, so that the response is not lost to a reset (close.go). A
// response that cannot be completed (the backend died, a malformed chunk)
// ends the client connection with a reset once what it is owed has left,
// so a truncated response never looks complete.
//
// # Operations
//
// Config.Operations, and the files ops.go (the state), record.go (a
// request's record from head to end), metrics.go (per-loop counters, a
// Prometheus collector summing them at scrape time), accesslog.go (a ring
// per loop drained by a writer goroutine), logs.go (rate-limited warn
// lines), monitor.go (the monitor URI, Server.Health), clientaddr.go (the
// PROXY protocol, trusted X-Forwarded-Proto), listener.go (the accept
// loop) and queue.go (the per-pool queue at a backend's cap), reach the
// engine's own files through small hooks marked "ops:".
//
// # Timeouts and drain
//
// Each loop's tick enforces the header, idle, backend and linger deadlines
// through the wheel, expires idle pooled connections and re-dials the
// pre-dialed ones. Server.Shutdown closes idle clients, lets requests in
// flight finish with Connection: close, closes connections accepted during
// the drain at once, and stops the engine when no client is left.
package engine
