package httpwire

import "bytes"

// parseFields parses the field lines of a head (block excludes the final blank line but
// includes the CRLF of the last field) and derives body framing and connection semantics.
func (h *Head) parseFields(block []byte, lim Limits) error {
	var (
		hosts, lengths, encodings int
		hostValue                 []byte
		closeTok, keepAliveTok    bool
	)
	h.ContentLength = 0
	for len(block) > 0 {
		eol := bytes.Index(block, crlf) // present: HeadEnd saw CRLF CRLF and no bare LF
		line := block[:eol]
		block = block[eol+2:]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return fail(ReasonObsFold)
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			if bytes.IndexByte(line, '\r') >= 0 {
				return fail(ReasonLineEnding)
			}
			return fail(ReasonFieldName)
		}
		name, value := line[:colon], line[colon+1:]
		if n := len(name); n > 0 && (name[n-1] == ' ' || name[n-1] == '\t') {
			return fail(ReasonSpaceBeforeColon)
		}
		if !isToken(name) {
			if bytes.IndexByte(name, '\r') >= 0 {
				return fail(ReasonLineEnding)
			}
			return fail(ReasonFieldName)
		}
		for _, c := range value {
			if charClass[c]&cValue == 0 {
				if c == '\r' {
					return fail(ReasonLineEnding)
				}
				return fail(ReasonFieldValue)
			}
		}
		value = trimOWS(value)
		if len(h.Fields) >= lim.MaxFields {
			return fail(ReasonHeaderTooLarge)
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: value})

		switch {
		case EqualFold(name, "host"):
			hosts++
			hostValue = value
		case EqualFold(name, "content-length"):
			lengths++
			n, ok := parseLength(value)
			if !ok {
				return fail(ReasonContentLength)
			}
			h.ContentLength = n
		case EqualFold(name, "transfer-encoding"):
			encodings++
			if !EqualFold(value, "chunked") {
				return fail(ReasonTransferEncoding)
			}
		case EqualFold(name, "connection"):
			c, k := connectionTokens(value)
			closeTok, keepAliveTok = closeTok || c, keepAliveTok || k
		case EqualFold(name, "expect"):
			if !EqualFold(value, "100-continue") {
				return fail(ReasonExpectation)
			}
			h.ExpectContinue = h.ProtoMinor == 1
		}
	}

	switch {
	case lengths > 1:
		return fail(ReasonDuplicateLength)
	case lengths == 1 && encodings > 0:
		return fail(ReasonLengthAndChunked)
	case encodings > 1, encodings == 1 && h.ProtoMinor == 0:
		return fail(ReasonTransferEncoding)
	case encodings == 1:
		h.Chunked, h.ContentLength = true, -1
	}

	switch {
	case hosts > 1, hosts == 1 && !validHost(hostValue):
		return fail(ReasonHost)
	case hosts == 0 && h.ProtoMinor == 1:
		return fail(ReasonHost)
	}
	if h.Host == nil { // absolute-form authority wins (RFC 9112 §3.2.2)
		h.Host = hostValue
	}
	if h.ProtoMinor == 1 {
		h.KeepAlive = !closeTok
	} else {
		h.KeepAlive = keepAliveTok && !closeTok
	}
	return nil
}

// parseLength parses a Content-Length value: 1 to 18 decimal digits (so it fits an int64
// without overflow checks), nothing else.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// connectionTokens reports whether the comma-separated Connection value holds the tokens
// "close" and "keep-alive" (case-insensitive).
func connectionTokens(v []byte) (closeTok, keepAlive bool) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = trimOWS(tok)
		closeTok = closeTok || EqualFold(tok, "close")
		keepAlive = keepAlive || EqualFold(tok, "keep-alive")
	}
	return closeTok, keepAlive
}

// Get returns the value of the first field named name (compared case-insensitively; name
// must be lower case), or nil.
func (h *Head) Get(name string) []byte {
	for i := range h.Fields {
		if EqualFold(h.Fields[i].Name, name) {
			return h.Fields[i].Value
		}
	}
	return nil
}
