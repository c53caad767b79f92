package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/pilb-proxy/pilb/bench/internal/proxies"
)

// remoteDir is where -print puts the nginx and HAProxy configurations and
// their scratch files on the proxy host.
const remoteDir = "/tmp/pilb-bench"

// hostScript is what -print shows: the commands for each host, for
// Amazon Linux 2023 (dnf) and Ubuntu (apt-get) alike.
var hostScript = template.Must(template.New("remote").Parse(`# pilb-bench remote -print: commands for each host (bench/README.md, "From a laptop to EC2").
# Load generator (wrk and the backends): {{.LoadHosts}}. Proxy host (pilb, nginx, HAProxy, agent): {{.ProxyHost}}.
# Run each block as root on the host it names, from the folder holding the binaries.

# --- on a machine with Go and the pilb repository: build, then scp the three binaries to both hosts ---
GOOS=linux GOARCH={{.Arch}} go build -o pilb ./cmd/pilb
GOOS=linux GOARCH={{.Arch}} go build -o pilb-backend ./cmd/pilb-backend
GOOS=linux GOARCH={{.Arch}} go build -o pilb-bench ./bench/cmd/pilb-bench

# --- both hosts: limits and kernel queues ---
ulimit -n 1000000
sysctl -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
          net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

# --- load generator {{.LoadHosts}}: wrk ---
if command -v dnf >/dev/null; then   # Amazon Linux 2023: no wrk package, build release 4.2.0
  command -v wrk >/dev/null || {
    dnf install -y git gcc make perl-core openssl-devel util-linux
    git clone --depth 1 --branch 4.2.0 https://github.com/wg/wrk /tmp/wrk
    make -C /tmp/wrk WITH_OPENSSL=/usr && install -m 755 /tmp/wrk/wrk /usr/local/bin/wrk
  }
else                                 # Ubuntu
  apt-get update && apt-get install -y wrk util-linux
fi
{{range .Backends}}
# --- backend {{.ID}} on {{.Host}} (load generator's CPUs {{$.BackendCPUs}}) ---
taskset -c {{$.BackendCPUs}} ./pilb-backend -listen 0.0.0.0:{{.Port}} -id {{.ID}} -loops 1 -log-level warn &
{{- end}}

# --- proxy host {{.ProxyHost}}: nginx, HAProxy, ethtool ---
if command -v dnf >/dev/null; then   # Amazon Linux 2023
  dnf install -y nginx haproxy util-linux ethtool
else                                 # Ubuntu
  apt-get update && apt-get install -y nginx haproxy util-linux ethtool
fi
systemctl stop nginx haproxy 2>/dev/null || true   # the packages' own services; the bench starts its own
mkdir -p {{.Dir}}
cat > {{.Dir}}/nginx.conf <<'PILB_BENCH_EOF'
{{.NginxConf}}PILB_BENCH_EOF
cat > {{.Dir}}/haproxy.cfg <<'PILB_BENCH_EOF'
{{.HAProxyConf}}PILB_BENCH_EOF

# --- proxy host {{.ProxyHost}}: interrupts away from the proxies' CPUs {{.ProxyCPUs}}, then the proxies and the agent ---
systemctl stop irqbalance 2>/dev/null || true
for f in /proc/irq/*/smp_affinity_list; do echo {{.IRQCPUs}} > "$f" 2>/dev/null; done   # fails harmlessly when the proxies use every CPU
taskset -c {{.ProxyCPUs}} ./pilb -listen 0.0.0.0:{{.PilbPort}} -backends {{.BackendList}} -loops {{.Loops}} -conns-per-backend 64 -log-level warn &
taskset -c {{.ProxyCPUs}} nginx -c {{.Dir}}/nginx.conf -p {{.Dir}} &
taskset -c {{.ProxyCPUs}} haproxy -db -f {{.Dir}}/haproxy.cfg &
./pilb-bench agent -listen :{{.AgentPort}} -process pilb,nginx,haproxy &
IF=$(ip route show default | awk '{print $5; exit}')
ethtool -S "$IF" | grep allowance   # again after the run: every *_allowance_exceeded must be unchanged

# --- load generator: the comparison, every step {{.Rounds}} times with the proxies interleaved ---
./pilb-bench remote -target {{.Targets}} \
    -agent {{.Agent}} -loops {{.Loops}} -conns {{.Conns}} -sizes {{.Sizes}} -rounds {{.Rounds}} -out results/compare
# copy results/compare back and run: pilb-bench size -results results/compare -rps 50000 -p99 5ms -resp-bytes 2048

# --- scaling 1..N loops (pilb alone), one folder: for n in 1 2 4 … up to the proxy host's vCPUs ---
#   proxy host:      stop pilb, then  taskset -c 0-$((n-1)) ./pilb -listen 0.0.0.0:{{.PilbPort}} -backends {{.BackendList}} -loops $n -conns-per-backend 64 -log-level warn &
#                    (with IRQs on the CPUs from n up: for f in /proc/irq/*/smp_affinity_list; do echo $n-$(( $(nproc)-1 )) > "$f"; done; at n = nproc leave them spread)
#   load generator:  ./pilb-bench remote -target pilb={{.PilbURL}} -agent {{.Agent}} -loops $n -conns {{.Conns}} -sizes {{.Sizes}} -out results/scaling -append
# then: pilb-bench report -results results/scaling   (the Scaling table: CPU per request and req/s at each n, efficiency)
`))

// printHosts writes the per-host commands for a comparison of pilb,
// nginx and HAProxy on one proxy host: pilb on target's port, nginx and
// HAProxy on the next two. Backends are labelled s1, s2 … as local
// labels them, so Server headers read the same in both.
func printHosts(w io.Writer, target, agent, arch string, loops int, backends []string, lf ladderFlags) error {
	if target == "" {
		target = "http://10.0.1.10:8080"
	}
	u, err := url.Parse(target)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%w: -target %q: want one proxy URL for -print, e.g. http://10.0.1.10:8080", errUsage, target)
	}
	port, err := strconv.Atoi(cmp.Or(u.Port(), "80"))
	if err != nil {
		return fmt.Errorf("%w: -target %q: bad port", errUsage, target)
	}
	if agent == "" {
		agent = "http://" + net.JoinHostPort(u.Hostname(), "9100")
	}
	au, err := url.Parse(agent)
	if err != nil || au.Port() == "" {
		return fmt.Errorf("%w: -agent %q: want http://host:port", errUsage, agent)
	}
	if arch != "arm64" && arch != "amd64" {
		return fmt.Errorf("%w: -arch %q: want arm64 (Graviton) or amd64 (Intel, AMD)", errUsage, arch)
	}
	if loops < 1 {
		return fmt.Errorf("%w: -loops must be ≥ 1", errUsage)
	}
	type backend struct{ Host, Port, ID string }
	var bs []backend
	var hosts []string
	for i, b := range backends {
		h, p, err := net.SplitHostPort(b)
		if err != nil {
			return fmt.Errorf("%w: -backend-addrs: %q: want host:port", errUsage, b)
		}
		bs = append(bs, backend{Host: h, Port: p, ID: fmt.Sprintf("s%d", i+1)})
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	hostPort := func(p int) string { return net.JoinHostPort(u.Hostname(), strconv.Itoa(p)) }
	cfg := proxies.Config{Backends: backends, Loops: loops, ConnsPerBackend: 64, Dir: remoteDir}
	cfg.Listen = "0.0.0.0:" + strconv.Itoa(port+1)
	nginx, err := proxies.Render("nginx", cfg)
	if err != nil {
		return err
	}
	cfg.Listen = "0.0.0.0:" + strconv.Itoa(port+2)
	haproxy, err := proxies.Render("haproxy", cfg)
	if err != nil {
		return err
	}
	pilbURL := "http://" + hostPort(port)
	return hostScript.Execute(w, map[string]any{
		"Arch": arch, "LoadHosts": strings.Join(hosts, ", "), "ProxyHost": u.Hostname(), "Dir": remoteDir,
		"Backends": bs, "BackendList": strings.Join(backends, ","), "BackendCPUs": "1-$(( $(nproc)-1 ))",
		"NginxConf": nginx, "HAProxyConf": haproxy,
		"ProxyCPUs": cpuRange(0, loops-1), "IRQCPUs": fmt.Sprintf("%d-$(( $(nproc)-1 ))", loops),
		"PilbPort": port, "PilbURL": pilbURL, "Loops": loops, "AgentPort": au.Port(), "Agent": agent,
		"Targets": fmt.Sprintf("pilb=%s,nginx=http://%s,haproxy=http://%s", pilbURL, hostPort(port+1), hostPort(port+2)),
		"Conns":   lf.conns.String(), "Sizes": lf.sizes.String(), "Rounds": lf.rounds,
	})
}
