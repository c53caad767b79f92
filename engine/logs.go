package engine

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pilb-proxy/pilb/pool"
)

// Logs of what goes wrong for a client or a backend: every error answer
// PILB makes itself (4xx, 5xx), every response it cuts and every passive
// ejection is logged at warn, but no more than warnPerSecond lines per
// loop each second: a storm of them (a backend down, a scanner sending
// garbage) must not cost the loops their time in log writes. What the
// limit holds back is counted (pilb_warn_logs_suppressed_total) and said
// in the next line written.

// warnPerSecond is how many warn lines a loop writes per second at most;
// ten per loop tell an operator what is going on, and cost the loop
// microseconds.
const warnPerSecond = 10

// warnLimiter is a loop's budget of warn lines.
type warnLimiter struct {
	second     int64 // the second (Unix) the count is for
	n          int   // lines written in it
	suppressed int   // lines held back since the last one written
}

// allow reports whether a line may be written at now (Unix nanoseconds),
// and how many were held back before it.
func (w *warnLimiter) allow(now int64) (ok bool, suppressed int) {
	if sec := now / 1e9; sec != w.second {
		w.second, w.n = sec, 0
	}
	if w.n >= warnPerSecond {
		w.suppressed++
		return false, 0
	}
	w.n++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}

// warnAllowed applies the loop's budget, counting what it holds back.
func (l *loop) warnAllowed() (ok bool, suppressed int) {
	if !l.srv.log.Enabled(context.Background(), slog.LevelWarn) {
		return false, 0
	}
	ok, suppressed = l.ops.warn.allow(l.now)
	if !ok {
		l.ops.stats.warnSuppressed++
	}
	return ok, suppressed
}

// warnGenerated logs an error answer PILB makes itself.
func (l *loop) warnGenerated(cl *clientConn, code int, err error, src errorSource) {
	l.warnExchange(cl, "pilb answered with an error", code, err, src)
}

// warnCut logs a response cut short: the client sees it end with a reset.
func (l *loop) warnCut(cl *clientConn, err error, src errorSource) {
	l.warnExchange(cl, "response cut short", int(cl.x().rec.status), err, src)
}

// warnExchange writes one rate-limited warn line about cl's exchange.
func (l *loop) warnExchange(cl *clientConn, msg string, status int, err error, src errorSource) {
	ok, suppressed := l.warnAllowed()
	if !ok {
		return
	}
	attrs := []any{"status", status, "source", src.String(), "client", cl.ip.String()}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	attrs = l.requestAttrs(cl, attrs)
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.srv.log.Warn(msg, attrs...)
}

// requestAttrs adds what is known of cl's request to a log line.
func (l *loop) requestAttrs(cl *clientConn, attrs []any) []any {
	if cl.phase == cpExchange || cl.phase == cpTunnel {
		if cl.pool != nil {
			attrs = append(attrs, "pool", cl.pool.Name())
		}
		if x := cl.ex; x != nil && x.rec.b != nil {
			attrs = append(attrs, "backend", x.rec.b.ID)
		}
		if x := cl.ex; x != nil && x.rec.line != nil && x.rec.open {
			attrs = append(attrs, "request", string(x.rec.line.B))
		}
	}
	return attrs
}

// ejected counts and logs a passive ejection of b, for d, after err.
func (l *loop) ejected(b *pool.Backend, d time.Duration, err error) {
	if l.cfg.Metrics {
		l.ops.stats.backend(b).ejections++
	}
	ok, suppressed := l.warnAllowed()
	if !ok {
		return
	}
	attrs := []any{"backend", b.ID, "addr", b.Addr, "pool", poolName(b.Pool), "for", d,
		"failures", b.ConsecutiveFailures(), "err", err}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.srv.log.Warn("backend ejected", attrs...)
}

// logLimits logs, at start, the limits the engine runs with once its
// defaults are applied: an operator sees what -max-conns 0 came to.
func (s *Server) logLimits() {
	var rl unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	s.log.Info("effective limits",
		"loops", s.cfg.Loops,
		"max_conns", s.cfg.MaxClientConns,
		"nofile", rl.Cur,
		"nofile_hard", rl.Max,
		"gomaxprocs", runtime.GOMAXPROCS(0),
		"max_header_bytes", s.cfg.MaxHeaderBytes,
		"high_water", s.cfg.HighWater,
	)
}
