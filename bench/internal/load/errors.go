package load

import "errors"

var (
	// ErrNoSummary is returned by the parsers when the output has no
	// requests/s line: the tool failed before measuring anything.
	ErrNoSummary = errors.New("load: no summary in load generator output")

	// ErrToolMissing is returned by Run when the load generator binary is
	// not on PATH (the harness installs it with apt-get first).
	ErrToolMissing = errors.New("load: load generator not installed")

	// ErrTimeout is returned by Run when the load generator is still
	// running exitGrace after its duration and request timeout.
	ErrTimeout = errors.New("load: load generator did not finish in time")
)
