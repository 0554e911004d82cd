package authserver

import (
	"bytes"
	"strconv"
)

// GET /me decodes a JWT payload and encodes a small object on every
// request; through encoding/json's reflection these were a third of the
// handler's CPU time. The two functions here do the same work for the
// plain shapes this server itself produces, and hand everything else to
// encoding/json: each either gives exactly encoding/json's result or
// declines (fastjson_test.go holds them to that, also by fuzzing).

// plainString reports whether s (the bytes between the quotes) reads the
// same raw as JSON-decoded: printable ASCII without quote or backslash.
// HTML-sensitive characters are left to the caller.
func plainString(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// decodeOwnPayload decodes b into w as json.Unmarshal would, if b is
// compact JSON (no white space) holding only the members sub, iss, jti
// and sid as plain strings, exp, iat and nbf as unsigned integers, and aud
// as a plain string or an array of them. It reports false, leaving w as
// it was, for anything else, which then takes json.Unmarshal.
func decodeOwnPayload(b []byte, w *wireClaims) bool {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	out := *w
	rest := b[1 : len(b)-1]
	for len(rest) > 0 {
		key, n := plainQuoted(rest)
		if n == 0 || n >= len(rest) || rest[n] != ':' {
			return false
		}
		rest = rest[n+1:]
		var ok bool
		switch string(key) {
		case "sub", "iss", "jti", "sid":
			var v []byte
			if v, n = plainQuoted(rest); n == 0 {
				return false
			}
			s := string(v)
			switch string(key) {
			case "sub":
				out.Sub = s
			case "iss":
				out.Iss = s
			case "jti":
				out.Jti = s
			case "sid":
				out.Sid = s
			}
			ok = true
		case "exp", "iat", "nbf":
			d := &out.RawExp
			switch string(key) {
			case "iat":
				d = &out.RawIat
			case "nbf":
				d = &out.RawNbf
			}
			// The method encoding/json would call, on the same bytes.
			n = unsignedInt(rest)
			ok = n > 0 && d.UnmarshalJSON(rest[:n]) == nil
		case "aud":
			n = plainAudience(rest)
			ok = n > 0 && out.Aud.UnmarshalJSON(rest[:n]) == nil
		}
		if !ok {
			return false
		}
		rest = rest[n:]
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return false
			}
			rest = rest[1:]
		}
	}
	*w = out
	return true
}

// plainQuoted reads a JSON string at the start of b whose content is
// plain, returning the content and the length read; 0 if there is none.
func plainQuoted(b []byte) ([]byte, int) {
	if len(b) < 2 || b[0] != '"' {
		return nil, 0
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 || !plainString(b[1:1+end]) {
		return nil, 0
	}
	return b[1 : 1+end], end + 2
}

// unsignedInt is the length of a JSON integer without sign, fraction or
// exponent at the start of b (at most 15 digits, exact in a float64); 0
// if there is none.
func unsignedInt(b []byte) int {
	n := 0
	for n < len(b) && n < 16 && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	switch {
	case n == 0 || n > 15, n > 1 && b[0] == '0':
		return 0
	case n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E'):
		return 0
	}
	return n
}

// plainAudience is the length of a plain string, or of a non-empty array
// of plain strings, at the start of b; 0 if there is none.
func plainAudience(b []byte) int {
	if _, n := plainQuoted(b); n > 0 {
		return n
	}
	if len(b) == 0 || b[0] != '[' {
		return 0
	}
	i := 1
	for {
		_, n := plainQuoted(b[i:])
		if n == 0 || i+n >= len(b) {
			return 0
		}
		i += n
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i++
		default:
			return 0
		}
	}
}

// htmlSafe reports whether s needs no escaping by encoding/json, which
// also escapes <, > and & for HTML.
func htmlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendMe appends the JSON of m, with the newline json.Encoder adds,
// when every string in it is htmlSafe; otherwise it returns nil and the
// caller encodes with encoding/json.
func appendMe(dst []byte, m *meResponse) []byte {
	if !htmlSafe(m.Sub) || !htmlSafe(m.SID) || !htmlSafe(m.Iss) {
		return nil
	}
	for _, a := range m.Aud {
		if !htmlSafe(a) {
			return nil
		}
	}
	dst = append(dst, `{"sub":"`...)
	dst = append(dst, m.Sub...)
	dst = append(dst, `","sid":"`...)
	dst = append(dst, m.SID...)
	dst = append(dst, `","iss":"`...)
	dst = append(dst, m.Iss...)
	dst = append(dst, '"')
	if len(m.Aud) > 0 {
		dst = append(dst, `,"aud":[`...)
		for i, a := range m.Aud {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = append(dst, a...)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, m.Iat, 10)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, m.Exp, 10)
	return append(dst, "}\n"...)
}
