package hostile

import "errors"

var (
	// ErrStatus is returned by OpenIdle, SlowDownload and Upload when the
	// proxy answers with a status other than 200.
	ErrStatus = errors.New("hostile: unexpected response status")
	// ErrShort is returned by SlowDownload and Upload when fewer bytes
	// than asked for were moved: the connection ended early.
	ErrShort = errors.New("hostile: transfer ended early")
	// ErrCPUList is returned by ParseCPUList for a list that is not of
	// taskset's form ("1", "0-3", "0,2-3").
	ErrCPUList = errors.New("hostile: bad CPU list")
)
