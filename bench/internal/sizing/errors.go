package sizing

import "errors"

var (
	// ErrNoCapacity is returned by FromRun and Profile.PerCore when no
	// measured step of the proxy meets the latency target without errors
	// at the response sizes the answer needs.
	ErrNoCapacity = errors.New("sizing: no measured step meets the p99 target")
	// ErrExtrapolate is returned by Profile.PerCore when the response
	// size lies outside the measured sizes and extrapolation was not
	// allowed.
	ErrExtrapolate = errors.New("sizing: response size outside the measured sizes")
	// ErrBadTarget is returned by Recommend when the target is not
	// positive.
	ErrBadTarget = errors.New("sizing: bad target")
	// ErrBadParams is returned by Recommend when a model parameter is
	// out of its range (see Params).
	ErrBadParams = errors.New("sizing: bad model parameter")
	// ErrBadCatalog is returned by LoadCatalog and Embedded when the
	// catalogue lacks a field a recommendation needs, or a source or
	// date for a figure.
	ErrBadCatalog = errors.New("sizing: bad instance catalogue")
)
