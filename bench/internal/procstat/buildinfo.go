package procstat

import (
	"debug/buildinfo"
	"fmt"
)

// Build is what a Go binary says about how it was built.
type Build struct {
	GoVersion string `json:"go_version"`
	// Revision is the VCS commit the binary was built from; empty when
	// it was built outside a repository or with -buildvcs=false.
	Revision string `json:"revision,omitempty"`
	// Modified is whether the work tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Time is the commit time, RFC 3339.
	Time string `json:"time,omitempty"`
}

// String is "commit 1b761e9 (dirty), go1.26.8" or "no VCS stamp, go1.26.8".
func (b Build) String() string {
	if b.Revision == "" {
		return "no VCS stamp (built with -buildvcs=false or outside git), " + b.GoVersion
	}
	rev := b.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	dirty := ""
	if b.Modified {
		dirty = " (dirty: uncommitted changes)"
	}
	return fmt.Sprintf("commit %s%s, %s", rev, dirty, b.GoVersion)
}

// GoBuild reads the build information of the Go binary at path (a
// /proc/PID/exe link works too).
func GoBuild(path string) (Build, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return Build{}, fmt.Errorf("procstat: build info of %s: %w", path, err)
	}
	b := Build{GoVersion: info.GoVersion}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "vcs.time":
			b.Time = s.Value
		}
	}
	return b, nil
}
