package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pilb-proxy/pilb/control"
)

// TestDeployUserDataFetchesShippedFiles: every file the EC2 user data
// fetches from deploy/ is in deploy/. The script runs under set -e, so one
// missing file (a 404 for curl -f) stops it before pilb is enabled.
func TestDeployUserDataFetchesShippedFiles(t *testing.T) {
	script, err := os.ReadFile("../../deploy/ec2/proxy-user-data.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The loop's entries: repo-path:host-path.
	entries := regexp.MustCompile(`(?m)([\w./-]+):/etc/[\w./-]+`).FindAllSubmatch(script, -1)
	if len(entries) == 0 {
		t.Fatal("no deploy/ file fetched by the script: its loop changed shape; update this test")
	}
	for _, e := range entries {
		p := filepath.Join("../../deploy", string(e[1]))
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the user data fetches deploy/%s, which is not shipped: %v", e[1], err)
		}
	}
}

// TestDeploySysctlSparesListenPorts: the ports pilb listens on with the
// shipped flags are outside the kernel's ephemeral range, or reserved from
// it. Otherwise a connection pilb opens to a backend may take the admin
// port as its local port, and a pilb started then (a restart, a reboot
// under load) fails with "address already in use".
func TestDeploySysctlSparesListenPorts(t *testing.T) {
	conf, err := os.ReadFile("../../deploy/sysctl.d/99-pilb.conf")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 32768, 60999 // the kernel's default range
	reserved := map[int]bool{}
	for _, line := range strings.Split(string(conf), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		switch strings.TrimSpace(k) {
		case "net.ipv4.ip_local_port_range":
			if _, err := fmt.Sscan(v, &lo, &hi); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		case "net.ipv4.ip_local_reserved_ports":
			for _, r := range strings.Split(v, ",") {
				a, b, isRange := strings.Cut(strings.TrimSpace(r), "-")
				from, err1 := strconv.Atoi(a)
				to, err2 := from, error(nil)
				if isRange {
					to, err2 = strconv.Atoi(b)
				}
				if err1 != nil || err2 != nil {
					t.Fatalf("%q: bad reserved port %q", line, r)
				}
				for p := from; p <= to; p++ {
					reserved[p] = true
				}
			}
		}
	}
	args, err := withFlagsFile([]string{"-flags-file", "../../deploy/pilb.flags"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags(args, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The EC2 user data's admin address is the instance's, on the default
	// port.
	for _, addr := range []string{o.listen, o.admin, control.DefaultAdminAddr} {
		_, ps, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%q: %v", addr, err)
		}
		p, _ := strconv.Atoi(ps)
		if p >= lo && p <= hi && !reserved[p] {
			t.Errorf("listen port %d is in the ephemeral range %d-%d and not in net.ipv4.ip_local_reserved_ports", p, lo, hi)
		}
	}
}
