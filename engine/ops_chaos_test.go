package engine

import (
	"testing"
	"time"
)

// TestChaosOps runs the chaos scenario as cmd/pilb runs the engine: the
// metrics and the access log on, clients accepted by PILB's own accept
// loop. Whatever clients and backends do, counting, logging and owning the
// accept must change nothing (every response checked, no panic, no leak).
func TestChaosOps(t *testing.T) {
	if childOf(t) {
		chaosScenario(t)
		return
	}
	if testing.Short() {
		t.Skip("a second chaos run; skipped in -short")
	}
	t.Setenv("PILB_CHAOS_OPS", "1") // reaches the isolated child
	t.Setenv("PILB_CHAOS_LISTENER", "1")
	runIsolated(t, 8*time.Minute)
}
