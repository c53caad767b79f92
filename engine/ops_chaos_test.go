package engine

import (
	"testing"
	"time"
)

// TestChaosOps runs the chaos scenario with the metrics and the access log
// on: whatever clients and backends do, counting and logging them must
// change nothing (every response checked, no panic, no leak).
func TestChaosOps(t *testing.T) {
	if childOf(t) {
		chaosScenario(t)
		return
	}
	if testing.Short() {
		t.Skip("a second chaos run; skipped in -short")
	}
	t.Setenv("PILB_CHAOS_OPS", "1") // reaches the isolated child
	runIsolated(t, 8*time.Minute)
}
