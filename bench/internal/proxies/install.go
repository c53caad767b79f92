package proxies

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// aptPackage is the Debian and Ubuntu package of each tool the harness
// runs.
var aptPackage = map[string]string{
	"wrk": "wrk", "hey": "hey", "nginx": "nginx", "haproxy": "haproxy", "taskset": "util-linux",
}

// dnfPackage is the Amazon Linux 2023 package of each tool; wrk and hey
// have none there (remote -print shows how to build wrk).
var dnfPackage = map[string]string{
	"nginx": "nginx", "haproxy": "haproxy", "taskset": "util-linux",
}

// EnsureTools installs the tools that are not on PATH, with apt-get
// (Debian, Ubuntu) or dnf (Amazon Linux 2023), whichever the host has.
// Nothing installed by hand survives a new machine, so the harness does
// it every time it needs to. It waits for another apt to finish.
func EnsureTools(ctx context.Context, progress io.Writer, tools ...string) error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err == nil {
		return aptInstall(ctx, progress, missing)
	}
	if _, err := exec.LookPath("dnf"); err == nil {
		return dnfInstall(ctx, progress, missing)
	}
	return fmt.Errorf("proxies: %v not installed and neither apt-get nor dnf is here: install them by hand", missing)
}

func aptInstall(ctx context.Context, progress io.Writer, tools []string) error {
	var pkgs []string
	for _, t := range tools {
		pkg, ok := aptPackage[t]
		if !ok {
			return fmt.Errorf("proxies: no package known for %q", t)
		}
		pkgs = append(pkgs, pkg)
	}
	fmt.Fprintf(progress, "installing %v with apt-get…\n", pkgs)
	lock := []string{"-o", "DPkg::Lock::Timeout=300"}
	if out, err := exec.CommandContext(ctx, "apt-get", append(lock, "update", "-qq")...).CombinedOutput(); err != nil {
		return fmt.Errorf("proxies: apt-get update: %v: %s", err, out)
	}
	args := append(append(lock, "install", "-y", "-qq", "--no-install-recommends"), pkgs...)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(cmd.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("proxies: apt-get install %v: %v: %s", pkgs, err, out)
	}
	// Debian's nginx package starts a system nginx on :80; it does not
	// collide with the harness's ports, so it is left alone.
	return nil
}

func dnfInstall(ctx context.Context, progress io.Writer, tools []string) error {
	var pkgs []string
	for _, t := range tools {
		pkg, ok := dnfPackage[t]
		if !ok {
			return fmt.Errorf("proxies: %s is not packaged for this dnf system (Amazon Linux 2023): "+
				"build it (pilb-bench remote -print shows how) or use -tool hey with hey on PATH", t)
		}
		pkgs = append(pkgs, pkg)
	}
	fmt.Fprintf(progress, "installing %v with dnf…\n", pkgs)
	if out, err := exec.CommandContext(ctx, "dnf", append([]string{"install", "-y", "-q"}, pkgs...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("proxies: dnf install %v: %v: %s", pkgs, err, out)
	}
	return nil
}
