// Package proxies starts and stops the processes a benchmark measures —
// pilb, nginx and HAProxy configured as equals — and the pilb-backend
// fleet behind them, each pinned to CPUs with taskset, and installs the
// tools they need with apt-get when missing.
package proxies

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/bench/internal/procstat"
)

// readyTimeout bounds how long a started process has to answer.
const readyTimeout = 10 * time.Second

// killDelay is how long stop waits after SIGTERM before SIGKILL: nginx and
// HAProxy finish in-flight requests on SIGTERM (graceful), which on an idle
// proxy takes well under a second; a process still there after killDelay
// is stuck, and the next proxy needs its CPU and port.
const killDelay = 5 * time.Second

// Config is what every proxy is started with.
type Config struct {
	// Listen is the proxy's loopback host:port.
	Listen string
	// Backends are the origin addresses, host:port.
	Backends []string
	// Loops is the number of event loops, workers or threads (one per
	// core): pilb -loops, nginx worker_processes, haproxy nbthread.
	Loops int
	// CPUs is the taskset CPU list for the proxy ("0", "0-1"); empty
	// means no pinning.
	CPUs string
	// ConnsPerBackend is the idle keep-alive connections each proxy may
	// keep per backend (pilb -conns-per-backend, nginx keepalive).
	ConnsPerBackend int
	// Dir is a scratch folder for configs and logs.
	Dir string
	// MaxClients is how many client connections each proxy must hold at
	// once (pilb -max-conns, HAProxy maxconn, nginx worker_connections,
	// which counts the upstream connections too); 0 keeps
	// defaultMaxClients.
	MaxClients int
	// HeaderTimeout is how long a client has to send a whole request
	// head (pilb -header-timeout, HAProxy timeout http-request, nginx
	// client_header_timeout); 0 keeps each proxy's default.
	HeaderTimeout time.Duration
}

// defaultMaxClients is the client connections the configurations allow
// unless Config.MaxClients says otherwise: with a backend connection
// each, 2 × 8000 descriptors fit the hard RLIMIT_NOFILE of small boxes.
const defaultMaxClients = 8000

// fdSpare is the descriptors a proxy needs beyond two per client
// (listeners, logs, idle pooled backend connections).
const fdSpare = 512

// Clients is MaxClients or its default.
func (c Config) Clients() int {
	if c.MaxClients > 0 {
		return c.MaxClients
	}
	return defaultMaxClients
}

// NginxWorkerConnections is nginx's worker_connections for Clients:
// nginx counts a proxied request's upstream connection against it too.
func (c Config) NginxWorkerConnections() int { return 2*c.Clients() + fdSpare }

// NginxNOFILE is nginx's worker_rlimit_nofile: its connections plus the
// rest.
func (c Config) NginxNOFILE() int { return c.NginxWorkerConnections() + fdSpare }

// HeaderTimeoutMS is HeaderTimeout in milliseconds, the unit both nginx
// and HAProxy read.
func (c Config) HeaderTimeoutMS() int64 { return c.HeaderTimeout.Milliseconds() }

// Proxy is one proxy under test.
type Proxy interface {
	Name() string
	// Start starts the proxy and returns once it answers a request.
	Start(ctx context.Context, cfg Config) error
	// PIDs returns the processes whose CPU time and memory are the
	// proxy's, as taken once when Start returned.
	PIDs() []int
	// Stop stops it and waits for it to exit.
	Stop() error
}

// running is embedded by every Proxy: the process it started and the
// PIDs whose CPU time and memory are the proxy's. It provides PIDs and
// Stop.
type running struct {
	p    *process
	pids []int
}

// launch starts argv as name, pinned to cfg.CPUs, and returns once it
// answers on cfg.Listen; on failure it stops what it started. It takes
// the PIDs then, once, so that sampling during a step does not walk
// /proc: with tree, the process and its descendants (nginx's master and
// workers, all forked before the first answer).
func (r *running) launch(ctx context.Context, name string, cfg Config, tree bool, argv ...string) error {
	p, err := startProcess(name, cfg.Dir, cfg.CPUs, argv...)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, "http://"+cfg.Listen+"/"); err != nil {
		_ = p.stop()
		return err
	}
	r.p, r.pids = p, []int{p.pid()}
	if tree {
		r.pids = procstat.Tree(p.pid())
	}
	return nil
}

// PIDs returns the processes taken when the proxy became ready; nil when
// it is not running.
func (r *running) PIDs() []int { return r.pids }

// Stop stops the proxy and waits for it to exit; it does nothing when the
// proxy is not running.
func (r *running) Stop() error {
	err := r.p.stop()
	r.p, r.pids = nil, nil
	return err
}

// process is a child process pinned with taskset, logging to a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProcess runs argv (pinned to cpus when set) with its output in
// dir/name.log.
func startProcess(name, dir, cpus string, argv ...string) (*process, error) {
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that Stop also reaches nginx's workers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("proxies: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// waitReady polls url until it answers or the process exits.
func (p *process) waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%w: %s exited: %s", ErrNotReady, p.name, p.tail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%w: %s at %s after %s: %s", ErrNotReady, p.name, url, readyTimeout, p.tail())
}

// tail is the end of the process's log, on one line.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = "…" + s[len(s)-400:]
	}
	if s == "" {
		return "(empty log " + p.log + ")"
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// pid is the process's own PID: taskset execs the command, so it is the
// command's.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process group, then SIGKILL after killDelay.
func (p *process) stop() error {
	if p == nil {
		return nil
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(killDelay):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
	return nil
}

// FreePort returns a free loopback port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// IsLoopback reports whether host:port names a loopback address.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
