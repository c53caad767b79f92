package procstat

import "errors"

var (
	// ErrBadStat is returned by ParseStat, ReadStat and Read when
	// /proc/PID/stat does not have the fields of proc(5).
	ErrBadStat = errors.New("procstat: malformed /proc/PID/stat")
	// ErrBadRollup is returned by ParsePSS and ReadPSS when
	// /proc/PID/smaps_rollup has no "Pss: N kB" line.
	ErrBadRollup = errors.New("procstat: no Pss in /proc/PID/smaps_rollup")
	// ErrBadStatus is returned by ParseStatus and ReadMemory when
	// /proc/PID/status lacks a "VmRSS: N kB" or "VmHWM: N kB" line.
	ErrBadStatus = errors.New("procstat: no VmRSS or VmHWM in /proc/PID/status")
	// ErrGone is returned by ReadStat and Read when a process has exited
	// (its /proc entry is gone), and by ReadLive when every one has.
	ErrGone = errors.New("procstat: process has exited")
)
