package main

import (
	"net"
	"os"
	"strconv"
)

// sdNotify sends state to systemd's notification socket (sd_notify(3)),
// when pilb runs as a Type=notify service; it does nothing otherwise.
//
//   - "READY=1" once pilb accepts connections, so that systemctl start
//     returns when it serves, with MAINPID=: after a restart by SIGUSR2
//     the successor says it is the main process now (the unit needs
//     NotifyAccess=all, since it is not the main process when it says so).
//   - "STOPPING=1" when it drains on SIGTERM.
func sdNotify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}

// readyState is what pilb tells systemd once it serves.
func readyState() string {
	return "READY=1\nMAINPID=" + strconv.Itoa(os.Getpid())
}
