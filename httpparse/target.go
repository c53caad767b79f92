package httpparse

// Request-target forms, RFC 9112 §3.2:
//
//	request-target = origin-form / absolute-form / authority-form / asterisk-form
//
// scanRequestLine has already checked every byte of the target (clsTarget:
// visible US-ASCII); checkTarget then checks which form the target has and
// that its method may use it. A target of no form ("GET ! HTTP/1.1",
// "GET foo HTTP/1.1") means nothing to HTTP, and each backend would make of
// it what it likes: one might resolve it against its own base path, another
// route it by a scheme it guessed. PILB forwards targets byte for byte, so
// it only forwards ones that every server reads the same way.

// checkTarget returns ErrBadTarget unless target t has one of the four
// forms and method m may use it:
//
//   - origin-form, absolute-path ["?" query] (§3.2.1): starts with '/'; any
//     method but CONNECT. Nearly every request, decided by one byte.
//   - absolute-form, absolute-URI (§3.2.2): only the "http" and "https"
//     schemes, in any case (RFC 3986 §3.1), then "//" and an authority that
//     checkAuthority accepts, ended by '/', '?' or the end of the target;
//     any method but CONNECT. PILB is a gateway to HTTP origins: another
//     scheme ("ftp://", "ws://") asks it to be a forward proxy for some
//     other protocol, and the engine, like most backends, knows the
//     authority only of http(s) targets. A userinfo ("http://u@h/") is
//     refused, as RFC 9110 §4.2.4 advises: it hides the real host.
//   - authority-form, uri-host ":" port (§3.2.3): CONNECT only, and CONNECT
//     takes nothing else (RFC 9110 §9.3.6); the port is required. The
//     engine answers a well-formed CONNECT 501: PILB opens no tunnels.
//   - asterisk-form, "*" (§3.2.4): OPTIONS only.
func checkTarget(m, t []byte) error {
	// An empty target never gets here from a fresh parse; it can from a
	// Scanned that came from another buffer (see Request.Scanned).
	if len(t) == 0 {
		return ErrBadTarget
	}
	connect := string(m) == "CONNECT"
	if t[0] == '/' {
		if connect {
			return ErrBadTarget
		}
		return nil
	}
	if connect {
		if checkAuthority(t, true) {
			return nil
		}
		return ErrBadTarget
	}
	if len(t) == 1 && t[0] == '*' {
		if string(m) == "OPTIONS" {
			return nil
		}
		return ErrBadTarget
	}
	var rest []byte
	switch {
	case len(t) > len("http://") && EqualFoldASCII(t[:len("http://")], "http://"):
		rest = t[len("http://"):]
	case len(t) > len("https://") && EqualFoldASCII(t[:len("https://")], "https://"):
		rest = t[len("https://"):]
	default:
		return ErrBadTarget
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' {
			end = i
			break
		}
	}
	if !checkAuthority(rest[:end], false) {
		return ErrBadTarget
	}
	return nil
}

// hostMatchesTarget reports whether host names the authority of target, a
// request-target that checkTarget accepted; any target that is not in
// absolute-form matches. ASCII case and the scheme's default port are
// ignored.
func hostMatchesTarget(target, host []byte) bool {
	var auth []byte
	var def string
	switch {
	case len(target) > len("http://") && EqualFoldASCII(target[:len("http://")], "http://"):
		auth, def = target[len("http://"):], ":80"
	case len(target) > len("https://") && EqualFoldASCII(target[:len("https://")], "https://"):
		auth, def = target[len("https://"):], ":443"
	default:
		return true
	}
	for i, c := range auth {
		if c == '/' || c == '?' {
			auth = auth[:i]
			break
		}
	}
	return equalFoldBytes(trimDefaultPort(auth, def), trimDefaultPort(host, def))
}

// trimDefaultPort drops a trailing default port (":80"), or an empty one
// (":", RFC 3986 §3.2.3), from an authority.
func trimDefaultPort(a []byte, def string) []byte {
	if n := len(a) - len(def); n > 0 && string(a[n:]) == def {
		return a[:n]
	}
	if n := len(a) - 1; n > 0 && a[n] == ':' {
		return a[:n]
	}
	return a
}

// checkAuthority reports whether a is uri-host [":" port] (RFC 3986
// §3.2.2, §3.2.3) with a host that is not empty (RFC 9110 §4.2.1: an http
// URI with an empty host is invalid) and, when needPort, a port that is
// not empty (RFC 9110 §9.3.6: CONNECT has no default port). The host is an
// IP-literal in brackets, of the characters an IPv6 address or IPvFuture
// may hold (a superset, checked no further: what matters here is that no
// delimiter hides inside), or a reg-name (which covers IPv4address):
// unreserved, sub-delims and pct-encoded. There is no userinfo: '@' is in
// neither. The port is digits.
func checkAuthority(a []byte, needPort bool) bool {
	i := 0
	if len(a) > 0 && a[0] == '[' {
		i = 1
		for i < len(a) && a[i] != ']' {
			if charClass[a[i]]&clsRegName == 0 && a[i] != ':' {
				return false
			}
			i++
		}
		if i == len(a) || i == 1 {
			return false
		}
		i++
	} else {
		for i < len(a) && a[i] != ':' {
			switch c := a[i]; {
			case charClass[c]&clsRegName != 0:
				i++
			case c == '%' && i+2 < len(a) && unhex[a[i+1]] != noHex && unhex[a[i+2]] != noHex:
				i += 3
			default:
				return false
			}
		}
		if i == 0 {
			return false
		}
	}
	if i == len(a) {
		return !needPort
	}
	if a[i] != ':' {
		return false
	}
	i++
	if i == len(a) {
		return !needPort
	}
	for ; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}
