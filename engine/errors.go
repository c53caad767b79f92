package engine

import "errors"

var (
	// ErrConfig is returned by New when the Config is unusable; the wrapped
	// message names the field.
	ErrConfig = errors.New("engine: invalid config")

	// ErrNoBackend is returned (and answered 503) when no backend is
	// available for a request.
	ErrNoBackend = errors.New("engine: no available backend")

	// ErrConnect is returned (and answered 502) when every connect attempt
	// for a request failed.
	ErrConnect = errors.New("engine: backend connect failed")

	// ErrBackendClosed is returned when a backend connection closed before
	// a complete response: answered 502 when nothing of the response has
	// reached the client, or the client is cut off when part of it has.
	ErrBackendClosed = errors.New("engine: backend closed the connection")

	// ErrBadResponse is returned (and answered 502) when a backend's
	// response head or body framing is malformed.
	ErrBadResponse = errors.New("engine: malformed backend response")

	// ErrBackendTimeout is returned (and answered 504) when a backend sent
	// no response head within Config.BackendTimeout.
	ErrBackendTimeout = errors.New("engine: backend response timeout")

	// ErrHeaderTimeout is returned (and answered 408) when a client did not
	// send a whole request head within Config.HeaderTimeout.
	ErrHeaderTimeout = errors.New("engine: request head timeout")

	// ErrBodyTimeout is returned (and answered 408) when a client sent no
	// byte of its request body for Config.IdleTimeout.
	ErrBodyTimeout = errors.New("engine: request body timeout")

	// ErrClientStalled is returned when a client read none of the response
	// waiting for it for Config.IdleTimeout; its connection is closed.
	ErrClientStalled = errors.New("engine: client stopped reading")

	// ErrOverflow is returned when a client sent, or was owed, more than
	// PILB holds for one connection (twice HighWater plus one read) while
	// it could not be paused: it neither reads nor stops sending. The
	// connection is reset.
	ErrOverflow = errors.New("engine: connection buffer cap exceeded")

	// ErrIncompleteBody is returned (and answered 400) when a client ended
	// its output in the middle of a request body.
	ErrIncompleteBody = errors.New("engine: request body cut short by the client")

	// ErrReenroll is returned when a connection taken off its loop (a
	// pause) could not be enrolled again; it is closed.
	ErrReenroll = errors.New("engine: re-enrolment on the loop failed")

	// ErrProxyHeader is returned when a connection to a listener with
	// Config.ProxyProtocol does not start with a valid PROXY protocol
	// header; the connection is closed without an answer.
	ErrProxyHeader = errors.New("engine: missing or malformed PROXY protocol header")

	// ErrQueueFull is returned (and answered 503) when every available
	// backend of a request's pool is at its cap and Config.MaxQueue
	// requests already wait for one.
	ErrQueueFull = errors.New("engine: backends at their cap and the queue full")

	// ErrQueueTimeout is returned (and answered 503) when a request waited
	// Config.QueueTimeout for a backend slot without getting one.
	ErrQueueTimeout = errors.New("engine: no backend slot within the queue timeout")

	// ErrShuttingDown is returned by Serve after Shutdown, and by Shutdown
	// when called twice.
	ErrShuttingDown = errors.New("engine: shutting down")
)

// errorSource says which side of the proxy a failure came from, for logs
// and the retry decision (Pingora's ErrorSource).
type errorSource uint8

const (
	fromClient errorSource = iota
	fromBackend
	fromInternal
)

func (s errorSource) String() string {
	switch s {
	case fromClient:
		return "client"
	case fromBackend:
		return "backend"
	}
	return "internal"
}
