package proxies

import "errors"

// ErrNotReady is returned by Start when a started process exits or does
// not answer HTTP on its address within readyTimeout; the error carries
// the tail of its log.
var ErrNotReady = errors.New("proxies: process did not become ready")
