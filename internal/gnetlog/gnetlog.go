// Package gnetlog routes gnet's logs to a *slog.Logger.
package gnetlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// New returns a gnet logger writing to log. gnet's Info lines (its start
// banner) go to Debug: they are not news for an operator. So does gnet's
// "stale connection" warning: it means a connection closed while handling
// one event had an event of its own in the same epoll batch (a client
// leaving closes its busy backend connection), which is expected.
func New(log *slog.Logger) logging.Logger { return logger{log} }

type logger struct{ log *slog.Logger }

func (g logger) logf(level slog.Level, format string, args []any) {
	if g.log.Enabled(context.Background(), level) {
		g.log.Log(context.Background(), level, fmt.Sprintf(format, args...), "source", "gnet")
	}
}

func (g logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args) }
func (g logger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args) }
func (g logger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args) }
func (g logger) Fatalf(format string, args ...any) { g.logf(slog.LevelError, format, args) }

func (g logger) Warnf(format string, args ...any) {
	level := slog.LevelWarn
	if strings.Contains(format, "stale connection") {
		level = slog.LevelDebug
	}
	g.logf(level, format, args)
}
