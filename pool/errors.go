package pool

import "errors"

var (
	// ErrDuplicateBackend is returned when a Backend added to a Set has the
	// ID or the Addr of a Backend already in it.
	ErrDuplicateBackend = errors.New("pool: duplicate backend")

	// ErrInvalidBackend is returned when a Backend added to a Set is nil or
	// has an empty ID or Addr.
	ErrInvalidBackend = errors.New("pool: invalid backend")

	// ErrUnknownBackend is returned when a pool name or backend ID names
	// nothing registered.
	ErrUnknownBackend = errors.New("pool: unknown backend")

	// ErrNoBackend is returned when no backend of a pool is Available and
	// not Full. Balancer.Pick says so with nil; callers that need an error
	// (the engine answers 503) use this one so the cause stays comparable
	// with errors.Is.
	ErrNoBackend = errors.New("pool: no available backend")

	// ErrUnknownPolicy is returned when a balancing policy name is not one
	// of Policies.
	ErrUnknownPolicy = errors.New("pool: unknown balancing policy")

	// ErrBadRoute is returned when a route is malformed: a host with a
	// port, a prefix not starting with '/', a bad pool name.
	ErrBadRoute = errors.New("pool: bad route")

	// ErrDuplicateRoute is returned when two routes match the same host
	// and prefix, or two pools of a Table share a name.
	ErrDuplicateRoute = errors.New("pool: duplicate route")
)
