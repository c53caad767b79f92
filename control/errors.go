package control

import "errors"

var (
	// ErrInvalid is returned when a registration or a request to the admin
	// API is malformed: a bad id, pool, address, weight or ttl, bad JSON.
	// The API answers 400.
	ErrInvalid = errors.New("control: invalid request")

	// ErrNotFound is returned when no active backend has the id asked for.
	// The API answers 404.
	ErrNotFound = errors.New("control: no such backend")

	// ErrConflict is returned when a change clashes with the registry: the
	// id belongs to a backend of another source (-backends, DNS, -demo),
	// or the address is already a backend of the pool under another id, or
	// the registry holds MaxBackends already. The API answers 409.
	ErrConflict = errors.New("control: conflict")

	// ErrUnauthorized is returned when the admin API has a token and a
	// request does not carry it. The API answers 401.
	ErrUnauthorized = errors.New("control: missing or wrong bearer token")

	// ErrExposed is returned when the admin API would listen on an address
	// other than loopback without a token.
	ErrExposed = errors.New("control: admin API on a non-loopback address without a token")

	// ErrRegister is returned by a Registrar when the proxy refused or
	// failed a registration; the message has the proxy's reason.
	ErrRegister = errors.New("control: registration failed")
)
