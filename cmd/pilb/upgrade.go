package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pilb-proxy/pilb/control"
)

// Restart without losing a request: SIGUSR2 (systemctl reload).
//
// The running pilb starts its successor: the binary at the path it was
// started from (a new one, if it was replaced) with the same command line,
// so a -flags-file is read again (new flags). The successor inherits the
// listening sockets, of -listen and -admin, as descriptors 3 and 4, and
// reads the backends registered through the admin API from descriptor 6
// (they would otherwise be missing until their next refresh). It serves
// the inherited sockets (binding anew only an address that changed),
// writes the -pid-file, and says "ready" on descriptor 5. Only then does
// the old pilb stop accepting, by closing its own descriptors: both
// processes accept from the same kernel queue until that moment, so no
// connection is refused, reset, or accepted only to be closed. The old
// pilb then drains: requests in flight finish, each keep-alive client's
// next request is answered with Connection: close (-drain-idle-grace), and
// it exits 0. If the successor fails (bad flags, a bad binary, no
// "ready" within upgradeTimeout), the old pilb logs why and goes on
// serving: a failed upgrade costs nothing.
//
// Under systemd, the successor is a child of the service's main process,
// so it stays in its cgroup; it writes the PIDFile= before the old process
// exits, and systemd takes it as the new main process
// (deploy/pilb.service).

// upgradeEnv carries the descriptors' roles to the successor:
// "pilb-upgrade-1 listen=3 admin=4 ready=5 state=6", admin only when there
// is an admin API. A descriptor not named is not read: the successor's
// runtime may have opened one of its own under that number.
const upgradeEnv = "PILB_UPGRADE"

// upgradeProtocol is the first word of upgradeEnv: a successor that does
// not know it refuses to start rather than misread the descriptors.
const upgradeProtocol = "pilb-upgrade-1"

// upgradeTimeout bounds the wait for the successor's "ready": past it the
// successor is killed and the old pilb goes on. It covers a start with
// DNS lookups and pre-dials to slow backends.
const upgradeTimeout = time.Minute

// maxState bounds the registrations read from the predecessor: 4096
// backends of a few hundred bytes each.
const maxState = 8 << 20

// registration is a backend the admin API registered, as handed over.
type registration struct {
	ID     string        `json:"id"`
	Pool   string        `json:"pool"`
	Addr   string        `json:"addr"`
	Weight int           `json:"weight"`
	TTL    time.Duration `json:"ttl"` // what is left of it; 0: none
}

// apiRegistrations returns the backends registered through the admin API
// and not draining, with what is left of their ttl.
func apiRegistrations(reg *control.Registry, now time.Time) []registration {
	var out []registration
	for _, st := range reg.Backends() {
		if st.Source != control.SourceAPI || st.State == control.StateDraining {
			continue
		}
		r := registration{ID: st.ID, Pool: st.Pool, Addr: st.Addr, Weight: st.Weight}
		if st.Expires != nil {
			r.TTL = max(st.Expires.Sub(now), control.MinTTL)
		}
		out = append(out, r)
	}
	return out
}

// inheritance is what a successor got from its predecessor.
type inheritance struct {
	listen *net.TCPListener
	admin  net.Listener
	ready  *os.File
	state  []registration
}

// inherit reads upgradeEnv and the descriptors it names; nil when this
// pilb was not started by another.
func inherit() (*inheritance, error) {
	v, ok := os.LookupEnv(upgradeEnv)
	if !ok {
		return nil, nil
	}
	_ = os.Unsetenv(upgradeEnv) // not for this process's own successor
	words := strings.Fields(v)
	if len(words) == 0 || words[0] != upgradeProtocol {
		return nil, fmt.Errorf("%s=%q: started by a pilb that speaks another upgrade protocol", upgradeEnv, v)
	}
	fds := map[string]uintptr{}
	for _, w := range words[1:] {
		name, num, _ := strings.Cut(w, "=")
		n, err := strconv.Atoi(num)
		if err != nil || n < 3 {
			return nil, fmt.Errorf("%s=%q: bad descriptor %q", upgradeEnv, v, w)
		}
		fds[name] = uintptr(n)
	}
	for _, need := range []string{"listen", "ready", "state"} {
		if _, ok := fds[need]; !ok {
			return nil, fmt.Errorf("%s=%q: no %s descriptor", upgradeEnv, v, need)
		}
	}
	in := &inheritance{ready: os.NewFile(fds["ready"], "pilb-upgrade-ready")}
	ln, err := fileListener(fds["listen"])
	if err != nil {
		return nil, fmt.Errorf("inherited listener: %v", err)
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("inherited listener is a %T", ln)
	}
	in.listen = tl
	if fd, ok := fds["admin"]; ok {
		if in.admin, err = fileListener(fd); err != nil {
			return nil, fmt.Errorf("inherited admin listener: %v", err)
		}
	}
	state := os.NewFile(fds["state"], "pilb-upgrade-state")
	defer state.Close()
	if err := json.NewDecoder(io.LimitReader(state, maxState)).Decode(&in.state); err != nil {
		return nil, fmt.Errorf("inherited registrations: %v", err)
	}
	return in, nil
}

// fileListener makes a listener of an inherited descriptor (and closes the
// descriptor: the listener holds a duplicate). Neither call changes the
// socket's blocking mode, which the predecessor shares.
func fileListener(fd uintptr) (net.Listener, error) {
	f := os.NewFile(fd, "pilb-inherited")
	if f == nil {
		return nil, errors.New("no such descriptor")
	}
	defer f.Close()
	return net.FileListener(f)
}

// listenOn returns a listener for addr: the inherited one when it is bound
// to addr (closing it otherwise), else a new one. A port in use names the
// address and says how to replace the pilb that holds it.
func listenOn(flagName, addr string, inherited net.Listener) (net.Listener, error) {
	if inherited != nil {
		if sameAddr(inherited.Addr(), addr) {
			return inherited, nil
		}
		_ = inherited.Close()
	}
	lc := net.ListenConfig{KeepAlive: -1} // as gnet's own accept: no TCP keepalive
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("-%s %s: address already in use: another process listens there (to replace a running pilb without losing requests, send it SIGUSR2; see the README)", flagName, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("-%s %s: %v", flagName, addr, err)
	}
	return ln, nil
}

// sameAddr reports whether a, a bound address, is what listening on addr
// (host:port, the host possibly empty or a name) would bind.
func sameAddr(a net.Addr, addr string) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || strconv.Itoa(ta.Port) != port {
		return false
	}
	got, _ := netip.AddrFromSlice(ta.IP)
	got = got.Unmap()
	if host == "" {
		return got.IsUnspecified()
	}
	want, err := netip.ParseAddr(host)
	if err == nil {
		return want.Unmap() == got
	}
	// A host name: the listener was bound to one of its addresses, which
	// need not be the first the resolver gives now (localhost may come
	// as ::1 first while Go bound 127.0.0.1).
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == got {
			return true
		}
	}
	return false
}

// signalReady tells the predecessor this pilb serves.
func (in *inheritance) signalReady() error {
	defer in.ready.Close()
	_, err := fmt.Fprintf(in.ready, "ready %d\n", os.Getpid())
	return err
}

// registerInherited registers the predecessor's API backends.
func (in *inheritance) registerInherited(reg *control.Registry, log *slog.Logger) {
	for _, r := range in.state {
		s := control.Spec{ID: r.ID, Pool: r.Pool, Addr: r.Addr, Weight: r.Weight}
		if _, _, err := reg.Register(s, r.TTL); err != nil {
			log.Warn("a registration handed over by the previous pilb is refused", "id", r.ID, "err", err)
		}
	}
	if len(in.state) > 0 {
		log.Info("registrations handed over by the previous pilb", "backends", len(in.state))
	}
}

// upgrader starts a successor on SIGUSR2.
type upgrader struct {
	exe    string   // the binary's path, resolved at start
	args   []string // the command line, as started
	listen net.Listener
	admin  net.Listener // nil without -admin
	reg    *control.Registry
	log    *slog.Logger
	busy   atomic.Bool
}

// newUpgrader resolves the binary's path now: once it is replaced on
// disk, /proc/self/exe names the deleted file.
func newUpgrader(listen, admin net.Listener, reg *control.Registry, log *slog.Logger) *upgrader {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &upgrader{exe: exe, args: os.Args, listen: listen, admin: admin, reg: reg, log: log}
}

// upgrade starts a successor and waits for its "ready"; it returns the
// successor's pid, or why it failed (the successor is then gone).
func (u *upgrader) upgrade() (int, error) {
	if u.listen == nil {
		return 0, errors.New("-reuseport: gnet holds the listening sockets, which cannot be handed over; run without -reuseport to restart without losing requests")
	}
	if !u.busy.CompareAndSwap(false, true) {
		return 0, errors.New("an upgrade is already under way")
	}
	defer u.busy.Store(false)
	state, err := json.Marshal(apiRegistrations(u.reg, time.Now()))
	if err != nil {
		return 0, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer readyR.Close()
	stateR, stateW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return 0, err
	}
	pid, err := u.spawn(readyW, stateR)
	readyW.Close()
	stateR.Close()
	if err != nil {
		stateW.Close()
		return 0, fmt.Errorf("starting %s: %v", u.exe, err)
	}
	u.log.Info("upgrade: successor started", "pid", pid, "binary", u.exe)
	go func() {
		_, _ = stateW.Write(state)
		stateW.Close()
	}()

	proc, _ := os.FindProcess(pid)
	exited := make(chan string, 1)
	go func() {
		st, err := proc.Wait()
		if err != nil {
			exited <- err.Error()
			return
		}
		exited <- st.String()
	}()
	ready := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(readyR).ReadString('\n')
		if err != nil {
			return // the successor exited before saying it: see exited
		}
		ready <- strings.TrimSpace(line)
	}()
	select {
	case line := <-ready:
		if line != "ready "+strconv.Itoa(pid) {
			_ = proc.Kill()
			return 0, fmt.Errorf("successor %d said %q", pid, line)
		}
		return pid, nil
	case st := <-exited:
		return 0, fmt.Errorf("successor %d exited before it was ready (%s); its reason is in the log above", pid, st)
	case <-time.After(upgradeTimeout):
		_ = proc.Kill()
		return 0, fmt.Errorf("successor %d not ready after %v; killed", pid, upgradeTimeout)
	}
}

// spawn starts the successor with the listening sockets' descriptors as
// they are: syscall.ForkExec rather than os/exec, whose ExtraFiles would
// put the sockets in blocking mode (os.File.Fd does) under this process's
// own accept loop.
func (u *upgrader) spawn(readyW, stateR *os.File) (int, error) {
	// Descriptors 3 and on, without holes: listen, admin (if any),
	// ready, state. The sockets' numbers are filled in under Control.
	files := []uintptr{0, 1, 2, 0}
	roles := upgradeProtocol + " listen=3"
	adminSlot := -1
	if u.admin != nil {
		adminSlot = len(files)
		files = append(files, 0)
		roles += " admin=" + strconv.Itoa(adminSlot)
	}
	roles += " ready=" + strconv.Itoa(len(files)) + " state=" + strconv.Itoa(len(files)+1)
	files = append(files, readyW.Fd(), stateR.Fd())
	env := []string{upgradeEnv + "=" + roles}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, upgradeEnv+"=") {
			env = append(env, kv)
		}
	}
	var pid int
	var startErr error
	start := func() {
		pid, startErr = syscall.ForkExec(u.exe, u.args, &syscall.ProcAttr{
			Env:   env,
			Files: files,
			// Its own process group: a Ctrl-C meant for the old one in a
			// terminal does not reach it.
			Sys: &syscall.SysProcAttr{Setpgid: true},
		})
	}
	withFD := func(l net.Listener, slot int, next func()) error {
		sc, ok := l.(syscall.Conn)
		if !ok {
			return fmt.Errorf("%T has no descriptor", l)
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return err
		}
		// Control keeps the descriptor open while the child is forked.
		return rc.Control(func(fd uintptr) {
			files[slot] = fd
			next()
		})
	}
	err := withFD(u.listen, 3, func() {
		if u.admin == nil {
			start()
			return
		}
		if err := withFD(u.admin, adminSlot, start); err != nil {
			startErr = err
		}
	})
	if err != nil {
		return 0, err
	}
	return pid, startErr
}

// writePIDFile writes this process's pid to path (nothing for "").
func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path) // whole or not at all, for systemd reading it
}

// removePIDFile removes path if it still names this process: after an
// upgrade it names the successor.
func removePIDFile(path string) {
	if path == "" {
		return
	}
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(path)
	}
}
