package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestParseFlagsOpsErrors: the operations flags, and the errors that must
// say what to type.
func TestParseFlagsOpsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-demo", "2", "-connect-timeout", "5"}, `invalid value "5" for flag -connect-timeout: no unit: use a unit, e.g. 5s`},
		{[]string{"-demo", "2", "-drain-timeout", "30"}, "use a unit, e.g. 30s"},
		{[]string{"-demo", "2", "-idle-timeout", "soon"}, "want a duration with a unit, e.g. 500ms"},
		{[]string{"-backends", "::1:5000"}, `-backends: "::1:5000": write IPv6 as [::1]:5000`},
		{[]string{"-backends", "fe80::1:2:5000"}, "write IPv6 as [fe80::1:2]:5000"},
		{[]string{"-demo", "2", "-listen", "::1:8080"}, "write IPv6 as [::1]:8080"},
		{[]string{"-demo", "2", "-listen", "8080"}, "for a port alone write :8080"},
		{[]string{"-backends", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:80"}, "10.0.0.1:80 given twice to pool default"},
		{[]string{"-backends", "api=10.0.0.1:80", "-backends", "api=10.0.0.1:80"}, "given twice to pool api"},
		{[]string{"-demo", "2", "-log-format", "xml"}, `-log-format "xml": want text or json`},
		{[]string{"-demo", "2", "-access-log-format", "clf"}, "want json or common"},
		{[]string{"-demo", "2", "-access-log", ""}, "-access-log"},
		{[]string{"-demo", "2", "-monitor-uri", "health"}, "-monitor-uri \"health\": must start with /"},
		{[]string{"-demo", "2", "-trusted-proxies", "10.0.0.0/8,nonsense"}, `-trusted-proxies: "nonsense": want an address or a CIDR`},
		{[]string{"-demo", "2", "-trusted-proxies", "10.0.0.0/33"}, "-trusted-proxies"},
		{[]string{"-demo", "2", "-forwarded-proto", "ftp"}, `-forwarded-proto "ftp": want http or https`},
		{[]string{"-demo", "2", "-queue-timeout", "-1s"}, "-queue-timeout -1s: must not be negative"},
		{[]string{"-demo", "2", "-max-queue", "0"}, "-max-queue 0: want 1 or more"},
		{[]string{"-demo", "2", "-drain-idle-grace", "-1s"}, "-drain-idle-grace -1s"},
		{[]string{"-demo", "2", "-drain-idle-grace", "3"}, "use a unit, e.g. 3s"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, noEnv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// One server in two pools is not a duplicate.
	if _, err := parseFlags([]string{"-backends", "api=10.0.0.1:80", "-backends", "10.0.0.1:80"}, noEnv, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryFlagErrorsExit2: bad values exit 2 with one line on stderr,
// duplicates included.
func TestBinaryFlagErrorsExit2(t *testing.T) {
	bin := buildBinary(t)
	for _, args := range [][]string{
		{"-backends", "127.0.0.1:9,127.0.0.1:9"},
		{"-demo", "1", "-connect-timeout", "5"},
		{"-backends", "::1:5000"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v: %v, want exit 2\n%s", args, err, out)
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != 0 || !strings.HasPrefix(string(out), "pilb: ") {
			t.Fatalf("%v: output %q", args, out)
		}
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// TestBinaryVersion: -version prints the build's version and exits 0,
// whatever else the command line says.
func TestBinaryVersion(t *testing.T) {
	out, err := exec.Command(buildBinary(t), "-version", "-admin", "").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "pilb ") || !strings.Contains(string(out), "revision ") || !strings.Contains(string(out), "go1.") {
		t.Fatalf("-version: %q", out)
	}
}

// TestBinaryOperations runs the binary as an operator would: JSON logs, an
// access log file, the monitor URI, /healthz and /metrics on the admin
// API; requests go through, and each part is read back: the scrape with
// the Prometheus text parser, the access log line by line.
func TestBinaryOperations(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	addr, adminAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, bin, nil, "-demo", "2", "-listen", addr, "-admin", adminAddr, "-loops", "2",
		"-log-format", "json", "-access-log", logPath, "-access-log-format", "json", "-monitor-uri", "/-/health")
	waitListening(t, addr)
	waitListening(t, adminAddr)

	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	for _, u := range []string{"http://" + addr + "/-/health", "http://" + adminAddr + "/healthz"} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "ok") {
			t.Fatalf("%s: %d %q", u, resp.StatusCode, b)
		}
	}

	var mfs map[string]*dto.MetricFamily
	if !eventuallyTrue(10*time.Second, func() bool {
		mfs = scrapeMetrics(t, "http://"+adminAddr+"/metrics")
		return sumFamily(mfs["pilb_requests_total"]) == 4
	}) {
		t.Fatalf("pilb_requests_total %v, want 4", sumFamily(mfs["pilb_requests_total"]))
	}
	for _, name := range []string{"pilb_build_info", "pilb_client_connections", "pilb_backend_state",
		"pilb_request_duration_seconds", "go_goroutines", "process_open_fds", "pilb_access_log_lines_total"} {
		if mfs[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}

	// SIGTERM: the access log is flushed before exit.
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit: %v", err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o640 {
		t.Errorf("access log mode %v, want 0640", fi.Mode().Perm())
	}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		if line["status"] != 200.0 || line["method"] != "GET" || line["target"] != "/" || line["pool"] != "default" {
			t.Errorf("access log line %q", sc.Text())
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d access log lines, want 4 (the monitor URI is not logged)", n)
	}
	// Every log line on stderr is JSON; the limits in effect are there.
	sawLimits := false
	for _, ln := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(ln), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", ln)
		}
		if rec["msg"] == "effective limits" {
			sawLimits = rec["max_conns"] != nil && rec["nofile"] != nil && rec["loops"] == 2.0
		}
	}
	if !sawLimits {
		t.Errorf("no effective limits logged:\n%s", p.stderr.String())
	}
}

// TestBinaryAccessLogReopen: after logrotate moves the file, SIGHUP makes
// pilb write to a new one at the same path.
func TestBinaryAccessLogReopen(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	addr := freeAddr(t)
	p := startProc(t, bin, nil, "-demo", "1", "-listen", addr, "-admin", "", "-access-log", logPath, "-access-log-format", "common")
	waitListening(t, addr)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/before")
	if !eventuallyTrue(5*time.Second, func() bool { b, _ := os.ReadFile(logPath); return strings.Contains(string(b), "/before") }) {
		t.Fatal("first line never written")
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !eventuallyTrue(5*time.Second, func() bool { _, err := os.Stat(logPath); return err == nil }) {
		t.Fatal("no new file after SIGHUP")
	}
	get("/after")
	if !eventuallyTrue(5*time.Second, func() bool { b, _ := os.ReadFile(logPath); return strings.Contains(string(b), "/after") }) {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("new file: %q", b)
	}
	if b, _ := os.ReadFile(logPath + ".1"); strings.Contains(string(b), "/after") || !strings.Contains(string(b), "/before") {
		t.Fatalf("rotated file: %q", b)
	}
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	return mfs
}

func sumFamily(mf *dto.MetricFamily) float64 {
	sum := 0.0
	for _, m := range mf.GetMetric() {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

func eventuallyTrue(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func TestParseFlagsOpsValid(t *testing.T) {
	o, err := parseFlags([]string{"-demo", "1", "-proxy-protocol", "-trusted-proxies", "10.0.0.0/16, 10.1.2.3,2001:db8::/32,10.9.9.9/8",
		"-forwarded-proto", "https", "-monitor-uri", "/-/health", "-access-log", "stdout", "-access-log-format", "common"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range o.trustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/16 10.1.2.3/32 2001:db8::/32 10.0.0.0/8" {
		t.Fatalf("trusted proxies %v", got)
	}
	cfg := o.engineConfig(nil, nil)
	if !cfg.ProxyProtocol || cfg.Proto != "https" || cfg.MonitorURI != "/-/health" || len(cfg.TrustedProxies) != 4 {
		t.Fatalf("engine config %+v", cfg.Operations)
	}
}

func TestWithFlagsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pilb.flags")
	os.WriteFile(path, []byte("# comment\n\n-listen :80\n-backends api=10.0.0.1:80, 10.0.0.2:80\n-proxy-protocol\n-admin \"\"\n  -log-format=json  \n"), 0o644)
	got, err := withFlagsFile([]string{"-flags-file", path, "-loops", "2"})
	if err != nil {
		t.Fatal(err)
	}
	want := "-listen=:80|-backends=api=10.0.0.1:80, 10.0.0.2:80|-proxy-protocol|-admin=|-log-format=json|-flags-file|" + path + "|-loops|2"
	if strings.Join(got, "|") != want {
		t.Fatalf("args %q\nwant  %q", strings.Join(got, "|"), want)
	}
	o, err := parseFlags(got, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != ":80" || !o.proxyProtocol || o.admin != "" || o.logFormat != "json" || o.loops != 2 || len(o.backends) != 2 {
		t.Fatalf("options %+v", o)
	}
	for _, bad := range []string{"listen :80\n", "-flags-file other\n"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := withFlagsFile([]string{"-flags-file=" + path}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := withFlagsFile([]string{"-flags-file", path + ".missing"}); err == nil || !strings.Contains(err.Error(), "-flags-file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestBinaryQueue: with backends capped at one request each, 16 clients at
// once are all served: they wait for a slot rather than get 503.
func TestBinaryQueue(t *testing.T) {
	bin := buildBinary(t)
	addr, adminAddr := freeAddr(t), freeAddr(t)
	startProc(t, bin, nil, "-demo", "2", "-listen", addr, "-admin", adminAddr, "-loops", "2",
		"-max-conns-per-backend", "1", "-queue-timeout", "20s")
	waitListening(t, addr)
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			for range 25 {
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d ok, %d failed", ok.Load(), failed.Load())
	}
	mfs := scrapeMetrics(t, "http://"+adminAddr+"/metrics")
	if n := sumFamily(mfs["pilb_queue_requests_total"]); n == 0 {
		t.Errorf("no request queued: the test did not reach the cap")
	}
}

// TestDeployFlagsFile: the flags file shipped in deploy/ parses.
func TestDeployFlagsFile(t *testing.T) {
	args, err := withFlagsFile([]string{"-flags-file", "../../deploy/pilb.flags"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags(args, noEnv, io.Discard)
	if err != nil {
		t.Fatalf("deploy/pilb.flags: %v", err)
	}
	if o.listen != ":80" || o.monitorURI != "/-/health" || o.accessLog != "/var/log/pilb/access.log" {
		t.Fatalf("options %+v", o.opsOptions)
	}
}

// TestSDNotify: under systemd (NOTIFY_SOCKET), pilb says READY=1 and its
// pid once it serves, and STOPPING=1 when SIGTERM drains it.
func TestSDNotify(t *testing.T) {
	bin := buildBinary(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := freeAddr(t)
	p := startProc(t, bin, []string{"NOTIFY_SOCKET=" + sock}, "-demo", "1", "-listen", addr, "-admin", "")
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := "READY=1\nMAINPID=" + fmt.Sprint(p.cmd.Process.Pid); string(buf[:n]) != want {
		t.Fatalf("got %q, want %q", buf[:n], want)
	}
	if conn, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("READY before it accepts: %v", err)
	} else {
		conn.Close()
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "STOPPING=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
}

// TestWithFlagsFileAfterValuedFlag: -flags-file is read wherever it stands
// on the command line, also after a flag with a separate value ("-pid-file
// /run/pilb/pilb.pid -flags-file ..."), and a value that looks like the flag
// is not taken for it.
func TestWithFlagsFileAfterValuedFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pilb.flags")
	os.WriteFile(path, []byte("-listen :80\n-admin \"\"\n-demo 1\n"), 0o644)
	for _, args := range [][]string{
		{"-pid-file", "/run/pilb/pilb.pid", "-flags-file", path},
		{"-loops", "2", "--flags-file=" + path},
		{"-proxy-protocol", "-health-path", "/h", "-flags-file", path, "-loops", "2"},
	} {
		got, err := withFlagsFile(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		o, err := parseFlags(got, noEnv, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if o.listen != ":80" || o.demo != 1 {
			t.Errorf("%q: the flags file was not read: -listen %q, -demo %d", args, o.listen, o.demo)
		}
	}
	// A value, not a flag: -health-path takes "-flags-file" as its value
	// (and refuses it), so nothing is read from the next argument.
	got, err := withFlagsFile([]string{"-health-path", "-flags-file", path + ".missing"})
	if err != nil {
		t.Fatalf("a value taken for -flags-file: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("args %q", got)
	}
}
