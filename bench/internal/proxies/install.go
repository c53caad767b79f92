package proxies

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// aptPackage is the Debian package of each tool the harness runs.
var aptPackage = map[string]string{
	"wrk": "wrk", "hey": "hey", "nginx": "nginx", "haproxy": "haproxy", "taskset": "util-linux",
}

// EnsureTools installs with apt-get the tools that are not on PATH.
// Nothing installed by hand survives a new machine, so the harness does
// it every time it needs to. It waits for another apt to finish.
func EnsureTools(ctx context.Context, progress io.Writer, tools ...string) error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			pkg, ok := aptPackage[t]
			if !ok {
				return fmt.Errorf("proxies: no package known for %q", t)
			}
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(progress, "installing %v with apt-get…\n", missing)
	lock := []string{"-o", "DPkg::Lock::Timeout=300"}
	if out, err := exec.CommandContext(ctx, "apt-get", append(lock, "update", "-qq")...).CombinedOutput(); err != nil {
		return fmt.Errorf("proxies: apt-get update: %v: %s", err, out)
	}
	args := append(append(lock, "install", "-y", "-qq", "--no-install-recommends"), missing...)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(cmd.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("proxies: apt-get install %v: %v: %s", missing, err, out)
	}
	// Debian's nginx package starts a system nginx on :80; it does not
	// collide with the harness's ports, so it is left alone.
	return nil
}
