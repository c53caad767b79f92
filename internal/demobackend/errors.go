package demobackend

import "errors"

var (
	// ErrNoID is returned by Start when Config.ID is empty: every response
	// names its backend, so a backend without a name is a wiring mistake.
	ErrNoID = errors.New("demobackend: empty backend ID")

	// ErrBodyConfigTooLarge is returned by Start when Config.Body is longer
	// than MaxBody.
	ErrBodyConfigTooLarge = errors.New("demobackend: Config.Body larger than MaxBody")

	// ErrStartTimeout is returned by Start when the gnet engine has not
	// booted within startTimeout.
	ErrStartTimeout = errors.New("demobackend: engine did not start in time")
)
