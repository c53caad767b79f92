package engine

// A client's exchange state that only a request in progress needs (what
// is still to come of its body, its record for the metrics and the access
// log) lives apart from clientConn, in an exchange the loop lends it from
// the request's head to its end: an idle keep-alive client, of which there
// may be tens of thousands, carries a nil pointer instead of 88 bytes.
// With its fields packed, clientConn is 224 bytes instead of 320. Not 240:
// that is the size class of gnet's connection, which parking frees; the
// two, allocated one after the other at each accept, would share spans,
// and the half that parking frees could go back to no one.

// exchange is the per-request part of a client's state.
type exchange struct {
	reqBody msgBody   // what is still to come of the request body
	rec     reqRecord // ops: the request as the metrics and the access log see it (record.go)
}

// maxSpareExchanges bounds the exchanges a loop keeps for reuse; past it,
// a returned one is left to the collector.
const maxSpareExchanges = 1024

// x returns cl's exchange, lending it one first when it has none.
func (cl *clientConn) x() *exchange {
	if cl.ex == nil {
		cl.ex = cl.l.takeExchange()
	}
	return cl.ex
}

// takeExchange returns a zeroed exchange. l may be nil (a client built by
// a test without a loop).
func (l *loop) takeExchange() *exchange {
	if l == nil || len(l.spareEx) == 0 {
		return new(exchange)
	}
	x := l.spareEx[len(l.spareEx)-1]
	l.spareEx[len(l.spareEx)-1] = nil
	l.spareEx = l.spareEx[:len(l.spareEx)-1]
	return x
}

// dropExchange takes back cl's exchange, once its request has ended
// (endRequest has closed the record).
func (l *loop) dropExchange(cl *clientConn) {
	x := cl.ex
	if x == nil {
		return
	}
	cl.ex = nil
	if x.rec.line != nil {
		linePool.Put(x.rec.line)
	}
	*x = exchange{}
	if len(l.spareEx) < maxSpareExchanges {
		l.spareEx = append(l.spareEx, x)
	}
}
