package proxies

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// helperEnv makes the test binary a stand-in proxy: it starts a child (a
// worker) and answers HTTP on the address in the variable.
const helperEnv = "PILB_BENCH_FAKE_PROXY"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		if addr == "exit" {
			os.Exit(3)
		}
		worker := exec.Command("sleep", "60")
		if err := worker.Start(); err != nil {
			os.Exit(4)
		}
		_ = http.ListenAndServe(addr, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		os.Exit(5)
	}
	os.Exit(m.Run())
}

func TestLaunchTakesTreeOnce(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Listen: "127.0.0.1:" + strconv.Itoa(port), Dir: t.TempDir()}
	t.Setenv(helperEnv, cfg.Listen)
	var r running
	if err := r.launch(context.Background(), "fake", cfg, true, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	pids := r.PIDs()
	if len(pids) != 2 || pids[0] != r.p.pid() {
		t.Fatalf("PIDs() = %v, want the process and its worker", pids)
	}
	// The list is the one taken at start: a worker that dies is not
	// looked for again (nginx respawns workers rarely; /proc is not
	// walked every sample).
	_ = syscall.Kill(pids[1], syscall.SIGKILL)
	if !slices.Equal(r.PIDs(), pids) {
		t.Errorf("PIDs() changed to %v", r.PIDs())
	}
	if err := r.Stop(); err != nil || r.PIDs() != nil {
		t.Errorf("Stop: %v, PIDs %v", err, r.PIDs())
	}
	if err := syscall.Kill(pids[0], 0); err == nil {
		t.Errorf("process %d still running after Stop", pids[0])
	}
}

func TestLaunchFailsCleanly(t *testing.T) {
	t.Setenv(helperEnv, "exit")
	var r running
	err := r.launch(context.Background(), "fake", Config{Listen: "127.0.0.1:1", Dir: t.TempDir()}, false, os.Args[0])
	if !errors.Is(err, ErrNotReady) || r.PIDs() != nil || r.Stop() != nil {
		t.Errorf("err = %v, PIDs %v", err, r.PIDs())
	}
}
