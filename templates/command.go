package templates

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shellSpecial are the characters a POSIX shell would interpret when
// unquoted. systemd runs ExecStart without a shell, so a command relying on
// them would silently mean something else; SplitCommand refuses them instead.
const shellSpecial = "$`|&;<>()*?[]{}~#"

// SplitCommand splits a command line (api.command in myapp.toml) into argv
// the way a POSIX shell splits words: blanks separate words, 'single quotes'
// keep everything literal, "double quotes" keep everything but \" \\ \$ \`
// literal, and a backslash outside quotes escapes the next character.
//
// Shell features that systemd would not provide are errors rather than
// surprises: unquoted $ ` | & ; < > ( ) * ? [ ] { } ~ #, an unescaped $ or `
// inside double quotes, control characters and unbalanced quotes. Wrap such
// a command as /bin/sh -c '...' when a shell is really wanted.
func SplitCommand(s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("split command: not valid UTF-8")
	}
	var (
		argv    []string
		word    strings.Builder
		inWord  bool // a word has started (possibly empty: '' is an argument)
		quote   rune // 0, '\'' or '"'
		escaped bool // previous rune was a backslash
		rs      = []rune(s)
	)
	for i, r := range rs {
		pos := i + 1
		if r != ' ' && r != '\t' && unicode.IsControl(r) {
			return nil, fmt.Errorf("split command: control character %q at position %d", r, pos)
		}
		switch {
		case escaped:
			// Inside double quotes a backslash only escapes these; before
			// anything else it is literal, as in the shell.
			if quote == '"' && !strings.ContainsRune("\"\\$`", r) {
				word.WriteRune('\\')
			}
			word.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '$', '`':
				return nil, fmt.Errorf("split command: %q at position %d: expansion is not supported (systemd runs the command without a shell)", r, pos)
			default:
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				argv = append(argv, word.String())
				word.Reset()
				inWord = false
			}
		case strings.ContainsRune(shellSpecial, r):
			return nil, fmt.Errorf("split command: unquoted %q at position %d: shell syntax is not supported (systemd runs the command without a shell; quote it, or use /bin/sh -c '...')", r, pos)
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	switch {
	case quote != 0:
		return nil, fmt.Errorf("split command: unterminated %c quote", quote)
	case escaped:
		return nil, errors.New("split command: trailing backslash")
	}
	if inWord {
		argv = append(argv, word.String())
	}
	if len(argv) == 0 {
		return nil, errors.New("split command: empty command")
	}
	return argv, nil
}

// plainArgRe matches arguments systemd reads back unchanged without quotes:
// nothing that starts a quote, escape, specifier (%), variable ($) or
// command separator (;).
var plainArgRe = lazyRegexp(`^[A-Za-z0-9._/:=@+,-]+$`)

// systemdQuote renders one argument for an Exec*= line. Anything beyond the
// plain set is double-quoted with \ and " escaped, and "$" and "%" doubled:
// systemd expands variables and specifiers even inside quotes.
func systemdQuote(arg string) string {
	if plainArgRe().MatchString(arg) {
		return arg
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(arg) + `"`
}

// execLine joins argv into an Exec*= value.
func execLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = systemdQuote(a)
	}
	return strings.Join(q, " ")
}

// argReason rejects what no quoting can carry through a unit file: a
// newline ends the directive, and other control characters are unreadable.
func argReason(arg string) string {
	if !utf8.ValidString(arg) {
		return "must be valid UTF-8"
	}
	for _, r := range arg {
		if unicode.IsControl(r) {
			return "must not contain control characters (newlines, tabs)"
		}
	}
	return ""
}
