package httpparse

// hopByHop is the fixed list of hop-by-hop fields, which a proxy never
// forwards whatever Connection says. RFC 9110 §7.6.1 names the rule; each
// line cites why its field is on the list. It has 256 entries so that
// indexing it with a HeaderID needs no bounds check.
var hopByHop = [256]bool{
	HdrConnection:         true, // RFC 9110 §7.6.1: Connection itself
	HdrKeepAlive:          true, // RFC 9110 §7.6.1 (RFC 2068 §19.7.1 keep-alive options)
	HdrProxyConnection:    true, // RFC 9110 §7.6.1: non-standard, sent by old clients
	HdrTE:                 true, // RFC 9110 §7.6.1, §10.1.4: TE applies to one connection
	HdrTransferEncoding:   true, // RFC 9110 §7.6.1, RFC 9112 §6.1: framing is per hop; the engine re-adds its own
	HdrUpgrade:            true, // RFC 9110 §7.6.1, §7.8: Upgrade applies to one connection
	HdrTrailer:            true, // RFC 9110 §7.6.1 (as in Go's httputil.ReverseProxy)
	HdrProxyAuthenticate:  true, // RFC 9110 §7.6.1, §11.7.1: addressed to this proxy's client
	HdrProxyAuthorization: true, // RFC 9110 §7.6.1, §11.7.2: addressed to this proxy
	HdrFramingLookAlike:   true, // not in RFC 9110: means nothing to HTTP, but some servers read it as framing (lookalike.go)
	HdrForwardedLookAlike: true, // not in RFC 9110: some servers read it as the X-Forwarded-* PILB writes (lookalike.go)
}

// markHop sets Hop on the hop-by-hop fields of hs: first every field named
// by an option of a Connection line (RFC 9110 §7.6.1: "the connection
// options ... MUST be removed"), looked up only when some Connection line
// named something other than close, keep-alive or upgrade (named is true),
// then the fixed hopByHop list. It works on the header array, not the
// bytes, so Connection may come after the fields it names.
func markHop(hs []Header, named bool) {
	if named {
		for i := range hs {
			if hs[i].ID != HdrConnection {
				continue
			}
			v := hs[i].Value
			for j := 0; j < len(v); {
				var opt []byte
				opt, j = nextElement(v, j)
				if len(opt) == 0 {
					continue
				}
				for k := range hs {
					if len(hs[k].Name) == len(opt) && equalFoldBytes(hs[k].Name, opt) {
						hs[k].Hop = true
					}
				}
			}
		}
	}
	for i := range hs {
		if hopByHop[hs[i].ID] {
			hs[i].Hop = true
		}
	}
}

// equalFoldBytes reports whether a and b are equal ignoring ASCII case.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerASCII[a[i]] != lowerASCII[b[i]] {
			return false
		}
	}
	return true
}
