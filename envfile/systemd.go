package envfile

import "strings"

// This file ports how systemd 252 (Debian 12) reads EnvironmentFile=
// (parse_env_file_internal in src/basic/env-file.c, then the unit's
// environment is cleaned of invalid assignments). systemd.exec(5) of 252:
//
//	Empty lines, lines without an "=" separator, or lines starting with
//	";" or "#" will be ignored [...] The file must be UTF-8 encoded. [...]
//	Control codes other than NUL are allowed.
//	[...] an unquoted value after the "=" is parsed with the same
//	backslash-escape rules as unquoted text in a POSIX shell, but unlike in
//	a shell, interior whitespace is preserved and quotes after the first
//	non-whitespace character are preserved. Leading and trailing
//	whitespace (space, tab, carriage return) is discarded [...] A line
//	ending with a backslash will be continued to the following one [...]
//	a "'"-quoted value after the "=" can span multiple lines and contain
//	any character verbatim other than single quote [...] No
//	backslash-escape sequences are recognized. [...]
//	a """-quoted value after the "=" can span multiple lines [...]
//	Backslash ("\") followed by any of ""\`$" will preserve that
//	character. A backslash followed by newline is a line continuation
//	[...] A backslash followed by any other character is ignored; both
//	the backslash and the following character are preserved verbatim.
//
// What the page leaves out, checked against systemd 252 itself
// (TestSystemdParserMatchesSystemd in peer_test.go):
//
//   - No inline comments: KEY=a # b is "a # b"; and after a closing quote
//     the value goes on, so KEY='a b' # c is "a b# c" and KEY='x'y is "xy".
//   - "$" is never expanded: EnvironmentFile= does no substitution.
//   - \r ends a line outside quotes but is kept inside them.
//   - A comment line ending in "\" swallows the next line.
//   - "export KEY=..." and names other than [A-Za-z_][A-Za-z0-9_]* are
//     dropped ("Ignoring invalid environment assignment"); the last
//     assignment of a name wins.

// sdAssign is one assignment as systemd parses it, with the bytes it
// covers (from its key to its line end) so redaction can tell which lines
// systemd reads as part of a value.
type sdAssign struct {
	key, value string
	start, end int
}

const (
	sdPreKey = iota
	sdKey
	sdPreValue
	sdValue
	sdValueEscape
	sdSingleQuote
	sdDoubleQuote
	sdDoubleQuoteEscape
	sdComment
	sdCommentEscape
)

func parseSystemd(s string) []sdAssign {
	var (
		out         []sdAssign
		key, value  []byte
		keyStart    int
		lastKeyWS   = -1
		lastValueWS = -1
		state       = sdPreKey
	)
	isNewline := func(c byte) bool { return c == '\n' || c == '\r' }
	isWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	push := func(end int, chompValue bool) {
		k, v := key, value
		if lastKeyWS >= 0 {
			k = k[:lastKeyWS]
		}
		if chompValue && lastValueWS >= 0 {
			v = v[:lastValueWS]
		}
		out = append(out, sdAssign{key: string(k), value: string(v), start: keyStart, end: end})
		key, value = key[:0], value[:0]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case sdPreKey:
			if c == '#' || c == ';' {
				state = sdComment
			} else if !isWS(c) {
				state, keyStart, lastKeyWS = sdKey, i, -1
				key = append(key[:0], c)
			}
		case sdKey:
			switch {
			case isNewline(c):
				state, key = sdPreKey, key[:0]
			case c == '=':
				state, lastValueWS, value = sdPreValue, -1, value[:0]
			default:
				if !isWS(c) {
					lastKeyWS = -1
				} else if lastKeyWS < 0 {
					lastKeyWS = len(key)
				}
				key = append(key, c)
			}
		case sdPreValue:
			switch {
			case isNewline(c):
				state = sdPreKey
				push(i+1, false)
			case c == '\'':
				state = sdSingleQuote
			case c == '"':
				state = sdDoubleQuote
			case c == '\\':
				state = sdValueEscape
			case !isWS(c):
				state = sdValue
				value = append(value, c)
			}
		case sdValue:
			switch {
			case isNewline(c):
				state = sdPreKey
				push(i+1, true)
			case c == '\\':
				state, lastValueWS = sdValueEscape, -1
			default:
				if !isWS(c) {
					lastValueWS = -1
				} else if lastValueWS < 0 {
					lastValueWS = len(value)
				}
				value = append(value, c)
			}
		case sdValueEscape:
			state = sdValue
			if !isNewline(c) {
				value = append(value, c)
			}
		case sdSingleQuote:
			if c == '\'' {
				state = sdPreValue
			} else {
				value = append(value, c)
			}
		case sdDoubleQuote:
			switch c {
			case '"':
				state = sdPreValue
			case '\\':
				state = sdDoubleQuoteEscape
			default:
				value = append(value, c)
			}
		case sdDoubleQuoteEscape:
			state = sdDoubleQuote
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				value = append(value, c)
			case c != '\n':
				value = append(value, '\\', c)
			}
		case sdComment:
			if c == '\\' {
				state = sdCommentEscape
			} else if isNewline(c) {
				state = sdPreKey
			}
		case sdCommentEscape:
			state = sdComment
		}
	}
	switch state {
	case sdPreValue, sdValue, sdValueEscape, sdSingleQuote, sdDoubleQuote, sdDoubleQuoteEscape:
		push(len(s), state == sdValue)
	}
	return out
}

// systemdEnv is the environment a unit gets from the file: valid names
// only, the last assignment of each winning. ok is false when systemd
// would refuse the whole file (a key or value with invalid UTF-8 or a
// noncharacter), failing the unit.
func systemdEnv(s string) (env map[string]string, ok bool) {
	env = map[string]string{}
	for _, a := range parseSystemd(s) {
		if !systemdUTF8(a.key) || !systemdUTF8(a.value) {
			return nil, false
		}
		if keyRe.MatchString(a.key) {
			env[a.key] = a.value
		}
	}
	return env, true
}
