package envfile

import (
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/myapp/myapp/internal/capped"
)

// The writer picks, for each value, the first of these that systemd 252
// (systemd.go) and python-dotenv 0.21 (dotenv.go) both decode to exactly the
// value, and refuses the value when there is none. TestWriterAgainstPeers
// checks every rule against both real readers.
//
//  1. Unquoted, for [A-Za-z0-9_./:@%+,=-]* (also the empty value): no
//     character there is special to either reader.
//  2. 'single quotes', when the value has no ' and no \: systemd keeps
//     everything verbatim (newlines too); dotenv does too except \\ and \'.
//  3. "double quotes" with only \ and " escaped (as \\ and \"): the two
//     escapes both readers decode alike. Raw $, `, ' and newlines are
//     literal in both. Not for a value ending in \: dotenv's regex takes
//     the closing \\" for an escaped quote and runs on into the next lines.
//
// Refused, because no form reads the same in both:
//   - "${" with a "}" after it: dotenv interpolates ${NAME} and
//     ${NAME:-default} in every form, single-quoted included, and has no
//     escape for "$" (\$ stays \$ in dotenv, becomes $ in systemd).
//   - a carriage return: dotenv reads the file in text mode, so \r becomes
//     \n; systemd keeps it inside quotes and ends the line outside.
//   - NUL, which no environment value can hold; invalid UTF-8 and the
//     Unicode noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), for which
//     systemd fails the unit ("invalid UTF-8 value for key") and
//     python-dotenv cannot decode the file (invalid UTF-8).
//   - a trailing \: not in rule 2 (dotenv would read \' as an escaped
//     quote and run on), nor in rule 3, nor unquoted (systemd joins the
//     next line).

// plainRe is rule 1.
var plainRe = capped.MustCompile(`^[A-Za-z0-9_./:@%+,=-]*$`, math.MaxInt)

// keyRe is what systemd accepts as a name (env_name_is_valid).
var keyRe = capped.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`, math.MaxInt)

// encode renders value for KEY=<here>, or says why no rendering reads the
// same in both. The error never contains the value.
func encode(value string) (string, error) {
	switch {
	case !systemdUTF8(value):
		return "", errors.New("it is not valid UTF-8 or has a Unicode noncharacter (systemd refuses the whole file)")
	case strings.ContainsRune(value, 0):
		return "", errors.New("it contains a NUL byte")
	case strings.ContainsRune(value, '\r'):
		return "", errors.New(`it contains a carriage return (python-dotenv reads it as a newline)`)
	case interpolated(value):
		return "", errors.New(`it contains "${...}", which python-dotenv replaces with a variable even in quotes and systemd does not`)
	case plainRe.MatchString(value):
		return value, nil
	case !strings.ContainsAny(value, `'\`):
		return "'" + value + "'", nil
	case strings.HasSuffix(value, `\`):
		return "", errors.New(`it ends with a backslash (python-dotenv takes the closing quote for an escaped one)`)
	}
	return `"` + dqEscaper.Replace(value) + `"`, nil
}

var dqEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// interpolated reports whether python-dotenv might expand part of value:
// its pattern is \$\{[^}:]*(:-[^}]*)?\}; any "${" followed by a "}" is
// refused, a little wider than needed, so the rule does not hang on the
// details of one dotenv version.
func interpolated(value string) bool {
	i := strings.Index(value, "${")
	return i >= 0 && strings.Contains(value[i+2:], "}")
}

// systemdUTF8 is systemd's utf8_is_valid: valid UTF-8 without
// noncharacters. A byte order mark is accepted.
func systemdUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if (c >= 0xfdd0 && c <= 0xfdef) || c&0xfffe == 0xfffe {
			return false
		}
	}
	return true
}
