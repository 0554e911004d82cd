package host

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// ShellQuote quotes s for a POSIX shell so that it arrives as exactly one
// word, whatever it contains: single quotes stop every expansion, and a
// single quote inside closes the quoting, adds an escaped quote and reopens:
//
//	it's  ->  'it'\''s'
//
// Plain words stay unquoted so printed commands remain readable.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, needsQuote) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// needsQuote reports characters outside a conservative safe set. '=' and
// '~' are unsafe on purpose: an unquoted leading NAME=value is an
// assignment, and zsh expands a leading '=' or '~'.
func needsQuote(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_@%+:,./-", r)
}

// ShellJoin quotes every element of argv and joins them with spaces, the
// form in which a command travels over SSH and appears in --dry-run output.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// commandArgv turns a Cmd into the argv that really runs: env(1) carries
// the extra variables, and "sudo -n --" is put in front when the login user
// is not root. -n makes a sudo that wants a password fail at once instead
// of hanging on a prompt nobody sees.
func commandArgv(c Cmd, sudo bool) ([]string, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return nil, errors.New("empty command")
	}
	for _, a := range c.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, errors.New("argument contains a NUL byte")
		}
	}
	var argv []string
	if sudo {
		argv = append(argv, "sudo", "-n", "--")
	}
	if len(c.Env) > 0 {
		argv = append(argv, "env", "--")
		for _, kv := range c.Env {
			if err := checkEnv(kv); err != nil {
				return nil, err
			}
		}
		argv = append(argv, c.Env...)
		// env(1) would take a command name containing '=' for another
		// variable; such commands are run through sh's exec instead.
		if strings.Contains(c.Argv[0], "=") {
			argv = append(argv, "sh", "-c", `exec "$@"`, "sh")
		}
	}
	return append(argv, c.Argv...), nil
}

func checkEnv(kv string) error {
	name, _, ok := strings.Cut(kv, "=")
	if !ok || name == "" || strings.IndexFunc(name, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 || name[0] >= '0' && name[0] <= '9' || strings.IndexByte(kv, 0) >= 0 {
		return fmt.Errorf("invalid environment entry %q: want NAME=value", name)
	}
	return nil
}

// checkPath rejects relative and unclean paths: every path a plan hands to
// a host is absolute, and a "../" in one is a bug we want to see.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q is not absolute and clean", p)
	}
	return nil
}

// chownSpec turns a FileSpec-style owner into chown(1) syntax: empty is
// root:root, and "user" alone means the user's login group ("user:").
func chownSpec(owner string) (string, error) {
	if owner == "" {
		return "root:root", nil
	}
	if strings.HasPrefix(owner, "-") || strings.ContainsAny(owner, " \t\n\x00") {
		return "", fmt.Errorf("invalid owner %q: want user:group", owner)
	}
	if !strings.Contains(owner, ":") {
		owner += ":"
	}
	return owner, nil
}

// unixMode converts permission and special bits to the st_mode layout
// that chmod(2) and chmod(1) take.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// fileMode converts a raw st_mode into an fs.FileMode. Both transports use
// it, so Local and SSH report the same bits for the same file.
func fileMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	switch u & 0o170000 {
	case 0o040000:
		m |= fs.ModeDir
	case 0o120000:
		m |= fs.ModeSymlink
	case 0o010000:
		m |= fs.ModeNamedPipe
	case 0o140000:
		m |= fs.ModeSocket
	case 0o060000:
		m |= fs.ModeDevice
	case 0o020000:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
