package sizing

import "errors"

var (
	// ErrNoCapacity is returned by CapacityFromRun when no step of the
	// proxy meets the latency target without errors.
	ErrNoCapacity = errors.New("sizing: no measured step meets the p99 target")
	// ErrBadTarget is returned by Recommend when the target or the
	// capacity is not positive, or the scaling efficiency is not in (0, 1].
	ErrBadTarget = errors.New("sizing: target and capacity must be positive")
	// ErrBadParams is returned by Recommend when Params.Headroom is not in
	// [0, 1) or Params.OverheadBytes is negative.
	ErrBadParams = errors.New("sizing: bad model parameter")
)
