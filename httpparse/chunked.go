package httpparse

const (
	// maxChunkLineLength bounds a chunk-size line with its extensions and
	// CRLF. A size takes at most 16 hex digits; extensions are meant to be
	// short (nothing PILB forwards uses them), and 4 KiB is what Go's
	// net/http/internal allows for the same line.
	maxChunkLineLength = 4096

	// maxTrailerBytes bounds the trailer section. Trailers are rare and
	// small field lines; they get the budget of a whole head
	// (DefaultMaxHeadBytes), so a body cannot carry more fields than a
	// head could.
	maxTrailerBytes = 32 << 10

	// maxChunkSize is the largest chunk-size accepted: it must fit in an
	// int64 like every length PILB handles.
	maxChunkSize = 1<<63 - 1
)

// ChunkedScanner states. Each names what the next byte must be.
const (
	csSizeStart    uint8 = iota // first HEXDIG of a chunk-size
	csSize                      // more HEXDIG, ";", BWS or CR
	csExtPreName                // BWS then the chunk-ext-name token
	csExtName                   // more tchar, BWS, "=", ";" or CR
	csExtPostName               // BWS, "=" or ";"
	csExtPreValue               // BWS then a token or a DQUOTE
	csExtToken                  // more tchar, BWS, ";" or CR
	csExtQuoted                 // qdtext, a backslash or the closing DQUOTE
	csExtQuotedBS               // the byte after a backslash
	csExtPostValue              // BWS, ";" or CR right after a value
	csExtPostWS                 // more BWS or ";" (CR may not follow BWS)
	csSizeLF                    // LF ending the chunk-size line
	csData                      // chunk-data, rem bytes left
	csDataCR                    // CR after chunk-data
	csDataLF                    // LF after chunk-data
	csTrailerStart              // a trailer field-name or the final CR
	csTrailerName               // more tchar or ":"
	csTrailerValue              // field value bytes or CR
	csTrailerLF                 // LF ending a trailer field line
	csFinalLF                   // LF ending the chunked body
	csDone                      // the body is complete
	csFailed                    // an error was returned; sticky
)

// ChunkedScanner walks a chunked body (RFC 9112 §7.1) fed in pieces of any
// size, down to one byte, without copying: it checks the framing and says
// where the body ends. The zero value is ready to scan a body; Reset makes
// it ready for the next one.
type ChunkedScanner struct {
	state uint8
	// rem is the chunk-size being read in the size states and the data
	// bytes left in csData.
	rem uint64
	// line counts the bytes of the current chunk-size line, or of the
	// trailer section, against maxChunkLineLength or maxTrailerBytes.
	line int
}

// Reset makes s ready to scan a new body.
func (s *ChunkedScanner) Reset() { *s = ChunkedScanner{} }

// Scan consumes the bytes at the start of p that belong to the body:
// chunk-size lines, chunk data and their CRLFs, the last chunk, the
// trailer section and the final CRLF. n is how many; done is true when the
// body is complete, and then p[n:] is what follows it (the next message).
// While !done, n == len(p): everything was consumed and more is needed.
// After done, Scan returns 0, true, nil until Reset. On ErrBadChunk, n
// counts the bytes before the bad one; the error is sticky. Scan suits forwarding the body verbatim: p[:n] is the body part of p.
func (s *ChunkedScanner) Scan(p []byte) (n int, done bool, err error) {
	for n < len(p) {
		if s.state == csData {
			k := uint64(len(p) - n)
			if k >= s.rem {
				k = s.rem
				s.state = csDataCR
			}
			s.rem -= k
			n += int(k)
			continue
		}
		m, err := s.frame(p[n:])
		n += m
		if err != nil {
			return n, false, err
		}
		if s.state == csDone {
			return n, true, nil
		}
	}
	return n, s.state == csDone, s.err()
}

// Decode is Scan for taking the chunked framing off: it consumes a prefix
// p[:n] of p and returns in data the chunk payload inside it, a sub-slice
// of p (nil when the prefix was framing only), valid while p is. It stops
// at the end of each chunk's data, so a caller loops until done or p is
// empty:
//
//	for len(p) > 0 {
//		n, data, done, err := s.Decode(p)
//		// handle err, write data
//		p = p[n:]
//		if done { break } // p is what follows the body
//	}
//
// The trailer section is checked and consumed but not returned. Errors are
// those of Scan. Scan and Decode share state and may be mixed on one body.
func (s *ChunkedScanner) Decode(p []byte) (n int, data []byte, done bool, err error) {
	if s.state != csData {
		n, err = s.frame(p)
		if err != nil {
			return n, nil, false, err
		}
		if s.state != csData {
			return n, nil, s.state == csDone, nil
		}
	}
	k := uint64(len(p) - n)
	if k == 0 {
		return n, nil, false, nil
	}
	if k >= s.rem {
		k = s.rem
		s.state = csDataCR
	}
	s.rem -= k
	data = p[n : n+int(k)]
	return n + int(k), data, false, nil
}

// err is the sticky error of a failed scanner.
func (s *ChunkedScanner) err() error {
	if s.state == csFailed {
		return ErrBadChunk
	}
	return nil
}

// fail makes the scanner fail for good.
func (s *ChunkedScanner) fail() error {
	s.state = csFailed
	return ErrBadChunk
}

// frame consumes framing bytes of p until the body is done, chunk data
// starts (csData with rem > 0) or p runs out, and returns how many. The
// grammar, RFC 9112 §7.1 and §7.1.1:
//
//	chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-size = 1*HEXDIG
//	last-chunk = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
//	trailer-section = *( field-line CRLF )
//	chunked-body = *chunk last-chunk trailer-section CRLF
//
// Bare LF is an error everywhere: it is the classic way to make two
// parsers disagree on where a chunk ends.
func (s *ChunkedScanner) frame(p []byte) (int, error) {
	switch s.state {
	case csDone:
		return 0, nil
	case csFailed:
		return 0, ErrBadChunk
	}
	for i := 0; i < len(p); i++ {
		if s.state == csDataCR && i+1 < len(p) && p[i] == '\r' && p[i+1] == '\n' {
			// Fast path: the CRLF after chunk data in one piece.
			s.state = csSizeStart
			i++
			continue
		}
		if s.state == csSizeStart {
			// Fast path: a whole "HEX CRLF" line without extensions.
			if n, size, ok := sizeLine(p[i:]); ok {
				i += n - 1
				s.line, s.rem = 0, size
				if size == 0 {
					s.state = csTrailerStart
					continue
				}
				s.state = csData
				return i + 1, nil
			}
		}
		c := p[i]
		if s.state <= csSizeLF {
			s.line++
			if s.line > maxChunkLineLength {
				return i, s.fail()
			}
		} else if s.state >= csTrailerStart {
			s.line++
			if s.line > maxTrailerBytes {
				return i, s.fail()
			}
		}
		switch s.state {
		case csSizeStart:
			d := unhex[c]
			if d == noHex {
				return i, s.fail()
			}
			s.rem = uint64(d)
			s.state = csSize
		case csSize:
			if d := unhex[c]; d != noHex {
				if s.rem > (maxChunkSize-uint64(d))>>4 {
					return i, s.fail()
				}
				s.rem = s.rem<<4 | uint64(d)
				continue
			}
			s.extEnd(c)
		case csExtPreName:
			switch {
			case c == ' ' || c == '\t':
			case charClass[c]&clsToken != 0:
				s.state = csExtName
			default:
				return i, s.fail()
			}
		case csExtName:
			switch {
			case charClass[c]&clsToken != 0:
			case c == '=':
				s.state = csExtPreValue
			case c == ' ' || c == '\t':
				s.state = csExtPostName
			default:
				s.extEnd(c)
			}
		case csExtPostName:
			switch c {
			case ' ', '\t':
			case '=':
				s.state = csExtPreValue
			case ';':
				s.state = csExtPreName
			default:
				return i, s.fail()
			}
		case csExtPreValue:
			switch {
			case c == ' ' || c == '\t':
			case c == '"':
				s.state = csExtQuoted
			case charClass[c]&clsToken != 0:
				s.state = csExtToken
			default:
				return i, s.fail()
			}
		case csExtToken:
			if charClass[c]&clsToken == 0 {
				s.extEnd(c)
			}
		case csExtQuoted:
			switch {
			case c == '"':
				s.state = csExtPostValue
			case c == '\\':
				s.state = csExtQuotedBS
			case charClass[c]&clsQdtext == 0:
				return i, s.fail()
			}
		case csExtQuotedBS:
			if charClass[c]&clsQuotedPair == 0 {
				return i, s.fail()
			}
			s.state = csExtQuoted
		case csExtPostValue:
			s.extEnd(c)
		case csExtPostWS:
			switch c {
			case ' ', '\t':
			case ';':
				s.state = csExtPreName
			default:
				return i, s.fail()
			}
		case csSizeLF:
			if c != '\n' {
				return i, s.fail()
			}
			s.line = 0
			if s.rem == 0 {
				s.state = csTrailerStart
				continue
			}
			s.state = csData
			return i + 1, nil
		case csDataCR:
			if c != '\r' {
				return i, s.fail()
			}
			s.state = csDataLF
		case csDataLF:
			if c != '\n' {
				return i, s.fail()
			}
			s.state = csSizeStart
		case csTrailerStart:
			switch {
			case c == '\r':
				s.state = csFinalLF
			case charClass[c]&clsToken != 0:
				// A field line (RFC 9112 §7.1.2, §5); obs-fold and an
				// empty name fall to the error.
				s.state = csTrailerName
			default:
				return i, s.fail()
			}
		case csTrailerName:
			switch {
			case charClass[c]&clsToken != 0:
			case c == ':':
				s.state = csTrailerValue
			default:
				return i, s.fail()
			}
		case csTrailerValue:
			switch {
			case charClass[c]&clsValue != 0:
			case c == '\r':
				s.state = csTrailerLF
			default:
				return i, s.fail()
			}
		case csTrailerLF:
			if c != '\n' {
				return i, s.fail()
			}
			s.state = csTrailerStart
		case csFinalLF:
			if c != '\n' {
				return i, s.fail()
			}
			s.state = csDone
			return i + 1, nil
		default:
			return i, s.fail()
		}
		if s.state == csFailed {
			return i, ErrBadChunk
		}
	}
	return len(p), nil
}

// sizeLine parses a chunk-size line without extensions, 1*HEXDIG CRLF, at
// the start of p, returning its length and the size; ok is false when p
// does not start with a whole such line (the caller then goes byte by
// byte, which also finds the errors). At most 15 digits are taken here so
// the size cannot overflow.
func sizeLine(p []byte) (n int, size uint64, ok bool) {
	for n < len(p) && n < 15 {
		d := unhex[p[n]]
		if d == noHex {
			break
		}
		size = size<<4 | uint64(d)
		n++
	}
	if n == 0 || n+1 >= len(p) || p[n] != '\r' || p[n+1] != '\n' {
		return 0, 0, false
	}
	return n + 2, size, true
}

// extEnd moves on from the end of a chunk-size, extension name or
// extension value: ";" starts another extension, BWS must be followed by
// ";", CR ends the line; anything else fails the scanner.
func (s *ChunkedScanner) extEnd(c byte) {
	switch c {
	case ';':
		s.state = csExtPreName
	case ' ', '\t':
		s.state = csExtPostWS
	case '\r':
		s.state = csSizeLF
	default:
		s.state = csFailed
	}
}
