package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pilb-proxy/pilb/internal/demobackend"
)

// TestBinaryRestartUnderLoad runs the documented procedure: a running pilb
// gets SIGUSR2 after its binary was replaced and its -flags-file changed,
// under load from clients that retry nothing (wrk when installed, keep-alive
// and Connection: close at once; a Go client otherwise). Not one request
// may fail; the old pilb exits 0, the new one serves with the new flags
// from the new binary, holds the backend registered through the admin API,
// and is in the -pid-file.
func TestBinaryRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test; skipped in -short")
	}
	built := buildBinary(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "pilb")
	copyFile(t, built, bin)

	var backends []string
	for i := 1; i <= 3; i++ {
		d, err := demobackend.Start(demobackend.Config{ID: fmt.Sprintf("s%d", i), Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop(context.Background()) })
		backends = append(backends, d.Addr())
	}
	addr, adminAddr := freeAddr(t), freeAddr(t)
	pidFile := filepath.Join(dir, "pilb.pid")
	flagsFile := filepath.Join(dir, "pilb.flags")
	writeFlags := func(monitor string) {
		flags := strings.Join([]string{
			"# pilb flags, read at start and by each successor",
			"-listen " + addr,
			"-admin " + adminAddr,
			"-backends " + backends[0] + ", " + backends[1],
			"-pid-file " + pidFile,
			"-loops 2",
			"-monitor-uri " + monitor,
			"-drain-timeout 10s",
		}, "\n")
		if err := os.WriteFile(flagsFile, []byte(flags+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFlags("/-/v1")
	notes := notifySocket(t, filepath.Join(dir, "notify.sock"))
	old := startDetachable(t, bin, filepath.Join(dir, "pilb.log"), "-flags-file", flagsFile)
	waitListening(t, addr)
	oldPID := old.cmd.Process.Pid
	if !eventuallyTrue(5*time.Second, func() bool { return readPID(pidFile) == oldPID }) {
		t.Fatalf("pid file holds %d, want %d", readPID(pidFile), oldPID)
	}
	// A backend registered through the admin API must survive the restart.
	resp, err := http.Post("http://"+adminAddr+"/backends", "application/json",
		strings.NewReader(`{"id":"reg1","addr":"`+backends[2]+`","ttl":"5m"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("register: %v %v", resp, err)
	}
	resp.Body.Close()

	loadFor := 4 * time.Second
	results := startRestartLoad(t, "http://"+addr+"/", loadFor)
	time.Sleep(time.Second)

	// A new binary (a new file at the same path) and new flags.
	copyFile(t, built, bin+".new")
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	newIno := inode(t, bin)
	writeFlags("/-/v2")
	if err := old.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-old.done:
		old.done <- err
		if err != nil {
			t.Fatalf("old pilb: %v\n%s", err, old.logs())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("old pilb still running 20s after SIGUSR2\n%s", old.logs())
	}
	newPID := readPID(pidFile)
	if newPID == 0 || newPID == oldPID {
		t.Fatalf("pid file holds %d after the restart (old %d)", newPID, oldPID)
	}
	t.Cleanup(func() { stopPID(t, newPID) })
	// systemd (Type=notify, NotifyAccess=all) hears each say it is the
	// main process once it serves.
	for _, pid := range []int{oldPID, newPID} {
		want := "READY=1\nMAINPID=" + strconv.Itoa(pid)
		if !eventuallyTrue(5*time.Second, func() bool { return strings.Contains(notes(), want) }) {
			t.Errorf("no %q among the notifications:\n%s", want, notes())
		}
	}
	if ino := inode(t, fmt.Sprintf("/proc/%d/exe", newPID)); ino != newIno {
		t.Errorf("successor runs inode %d, want the new binary's %d", ino, newIno)
	}

	for _, r := range results() {
		t.Logf("%s: %d requests, %d failed (%s)", r.name, r.requests, r.failed, r.detail)
		if r.failed != 0 {
			t.Errorf("%s: %d failed requests across the restart", r.name, r.failed)
		}
		if r.requests < 100 {
			t.Errorf("%s: only %d requests: the load did not run", r.name, r.requests)
		}
	}

	// The new flags are in effect: /-/v2 is pilb's own answer now.
	resp, err = http.Get("http://" + addr + "/-/v2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" || resp.Header.Get("Server") != "" {
		t.Errorf("/-/v2 after the restart: %d %q server %q", resp.StatusCode, b, resp.Header.Get("Server"))
	}
	resp, err = http.Get("http://" + adminAddr + "/backends/reg1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"source": "api"`) {
		t.Errorf("registered backend after the restart: %d %s", resp.StatusCode, b)
	}
	if logs := old.logs(); !strings.Contains(logs, "upgrade: the successor serves; draining") {
		t.Errorf("the log:\n%s", logs)
	}
}

// detachable is a pilb whose successor may outlive it: its stderr is a
// file (a pipe would keep Wait waiting for the successor, which inherits
// it).
type detachable struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// notifySocket plays systemd's notification socket: it sets NOTIFY_SOCKET
// for the processes the test starts and returns what they sent so far.
func notifySocket(t *testing.T, path string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	var mu sync.Mutex
	var got strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got.Write(buf[:n])
			got.WriteString("\n--\n")
			mu.Unlock()
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return got.String()
	}
}

func startDetachable(t *testing.T, bin, logPath string, args ...string) *detachable {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &detachable{cmd: exec.Command(bin, args...), log: logPath, done: make(chan error, 1)}
	p.cmd.Stderr = f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("pilb log:\n%s", p.logs())
		}
	})
	return p
}

func (p *detachable) logs() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// TestBinaryRestartFailedSuccessor: a successor that cannot start (a bad
// flag in the flags file) leaves the old pilb serving.
func TestBinaryRestartFailedSuccessor(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	flagsFile := filepath.Join(dir, "pilb.flags")
	addr := freeAddr(t)
	if err := os.WriteFile(flagsFile, []byte("-demo 1\n-admin \"\"\n-listen "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startDetachable(t, bin, filepath.Join(dir, "pilb.log"), "-flags-file", flagsFile)
	waitListening(t, addr)
	if err := os.WriteFile(flagsFile, []byte("-demo 1\n-admin \"\"\n-listen "+addr+"\n-connect-timeout 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGUSR2)
	if !eventuallyTrue(10*time.Second, func() bool { return strings.Contains(p.logs(), "upgrade failed; still serving") }) {
		t.Fatalf("no failure logged:\n%s", p.logs())
	}
	if !strings.Contains(p.logs(), "use a unit, e.g. 5s") {
		t.Errorf("the successor's reason is not in the log:\n%s", p.logs())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("old pilb after a failed upgrade: %d", resp.StatusCode)
	}
	select {
	case err := <-p.done:
		t.Fatalf("old pilb exited: %v", err)
	default:
	}
}

// TestBinaryPortInUse: a -listen address another process holds names the
// address and the way to replace a pilb.
func TestBinaryPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(buildBinary(t), "-demo", "1", "-admin", "", "-listen", ln.Addr().String()).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("%v, want exit 1:\n%s", err, out)
	}
	want := "pilb: -listen " + ln.Addr().String() + ": address already in use"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "SIGUSR2") {
		t.Fatalf("output %q, want %q", out, want)
	}
}

// loadRun is what one load generator saw.
type loadRun struct {
	name     string
	requests int64
	failed   int64
	detail   string
}

// startRestartLoad starts, for d, a keep-alive and a Connection: close load on
// url; the returned function waits for them.
func startRestartLoad(t *testing.T, url string, d time.Duration) func() []loadRun {
	t.Helper()
	var mu sync.Mutex
	var runs []loadRun
	var wg sync.WaitGroup
	for _, keepAlive := range []bool{true, false} {
		name := "keep-alive"
		if !keepAlive {
			name = "connection-close"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := runLoadTool(t, name, url, keepAlive, d)
			mu.Lock()
			runs = append(runs, r)
			mu.Unlock()
		}()
	}
	return func() []loadRun {
		wg.Wait()
		return runs
	}
}

// runLoadTool runs wrk when installed (and PILB_TEST_NO_WRK is not set),
// else a Go client that, like wrk, retries nothing.
func runLoadTool(t *testing.T, name, url string, keepAlive bool, d time.Duration) loadRun {
	if wrk, err := exec.LookPath("wrk"); err == nil && os.Getenv("PILB_TEST_NO_WRK") == "" {
		args := []string{"-t1", "-c8", "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "5s"}
		if !keepAlive {
			args = append(args, "-H", "Connection: close")
		}
		out, err := exec.Command(wrk, append(args, url)...).CombinedOutput()
		if err != nil {
			t.Errorf("wrk: %v\n%s", err, out)
			return loadRun{name: "wrk " + name}
		}
		requests, errs, non2xx, ok := parseWrk(string(out))
		if !ok {
			t.Errorf("wrk output not understood:\n%s", out)
		}
		return loadRun{name: "wrk " + name, requests: requests, failed: errs + non2xx,
			detail: fmt.Sprintf("socket errors %d, non-2xx %d", errs, non2xx)}
	}
	return goLoad(name, strings.TrimPrefix(url, "http://"), keepAlive, d)
}

// parseWrk reads wrk's request count, socket errors (connect, read, write,
// timeout) and non-2xx/3xx answers.
func parseWrk(out string) (requests, errs, non2xx int64, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			requests, _ = strconv.ParseInt(f[0], 10, 64)
			ok = true
		case strings.HasPrefix(line, "Socket errors:"):
			var c, r, w, to int64
			fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d", &c, &r, &w, &to)
			errs = c + r + w + to
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		}
	}
	return requests, errs, non2xx, ok
}

// goLoad sends GET / on 8 connections for d; any error is a failure.
func goLoad(name, hostPath string, keepAlive bool, d time.Duration) loadRun {
	addr, _, _ := strings.Cut(hostPath, "/")
	req := "GET / HTTP/1.1\r\nHost: load\r\n\r\n"
	if !keepAlive {
		req = "GET / HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n"
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			fail := func(err error) {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				if c != nil {
					c.Close()
					c = nil
				}
			}
			for time.Now().Before(deadline) {
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
						c = nil
						fail(err)
						continue
					}
					br = bufio.NewReader(c)
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, req); err != nil {
					fail(err)
					continue
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					fail(err)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					fail(fmt.Errorf("status %d, %v", resp.StatusCode, err))
					continue
				}
				ok.Add(1)
				if resp.Close {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	wg.Wait()
	detail, _ := firstErr.Load().(string)
	return loadRun{name: "go " + name, requests: ok.Load() + failed.Load(), failed: failed.Load(), detail: detail}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// stopPID stops a process that is not this test's child (a successor):
// SIGTERM, then SIGKILL.
func stopPID(t *testing.T, pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !eventuallyTrue(15*time.Second, func() bool { return syscall.Kill(pid, 0) != nil || isZombie(pid) }) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestBinaryRestartWithoutAdmin: without an admin API only the listener
// is handed over, and the successor serves.
func TestBinaryRestartWithoutAdmin(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	pidFile := filepath.Join(dir, "pilb.pid")
	old := startDetachable(t, bin, filepath.Join(dir, "pilb.log"), "-demo", "1", "-admin", "", "-listen", addr, "-pid-file", pidFile)
	waitListening(t, addr)
	if !eventuallyTrue(5*time.Second, func() bool { return readPID(pidFile) == old.cmd.Process.Pid }) {
		t.Fatal("no pid file")
	}
	old.cmd.Process.Signal(syscall.SIGUSR2)
	select {
	case err := <-old.done:
		old.done <- err
		if err != nil {
			t.Fatalf("old pilb: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("old pilb still running\n%s", old.logs())
	}
	newPID := readPID(pidFile)
	t.Cleanup(func() { stopPID(t, newPID) })
	if newPID == old.cmd.Process.Pid || newPID == 0 {
		t.Fatalf("pid file %d", newPID)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("successor: %d", resp.StatusCode)
	}
}

// TestSameAddr: an inherited listener matches the -listen it was bound
// for: the same literal address and port, any address for an empty host,
// and any of a host name's addresses (localhost may resolve ::1 first while
// the listener holds 127.0.0.1).
func TestSameAddr(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	for _, c := range []struct {
		a    net.Addr
		addr string
		want bool
	}{
		{v4, "127.0.0.1:8080", true},
		{v4, "127.0.0.1:8081", false},
		{v4, "127.0.0.2:8080", false},
		{any4, ":8080", true},
		{v4, ":8080", false},
		{v4, "localhost:8080", true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "[::1]:8080", true},
		{v4, "no-such-host.invalid:8080", false},
		{v4, "8080", false},
	} {
		if got := sameAddr(c.a, c.addr); got != c.want {
			t.Errorf("sameAddr(%v, %q) = %v, want %v", c.a, c.addr, got, c.want)
		}
	}
}
