package procstat

import "errors"

// ErrBadStat is returned by ParseStat, ReadStat and Read when
// /proc/PID/stat does not have the fields of proc(5).
var ErrBadStat = errors.New("procstat: malformed /proc/PID/stat")
