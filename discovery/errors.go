package discovery

import "errors"

var (
	// ErrBadTarget is returned when a -backends-dns or -backends target is
	// malformed: no port, a bad port, a bad name, a port on an SRV name.
	ErrBadTarget = errors.New("discovery: bad target")

	// ErrNoAddress is returned when a name resolved to no usable address.
	ErrNoAddress = errors.New("discovery: no address")
)
