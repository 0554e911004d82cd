package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// shellFiles implements the file half of Host with small POSIX sh scripts
// run as commands. SSH uses it (no sftp: sftp cannot sudo), and so does
// Local when myapp is not root, with the scripts going through sudo. The
// scripts take every path as a positional parameter, never spliced into the
// script text, so no path can change what they do.
type shellFiles struct {
	name string
	// run runs a command as root and returns its errors unwrapped.
	run func(ctx context.Context, c Cmd) ([]byte, error)
}

// codeNotExist is the exit status the scripts use for a missing path, so
// that it is told apart from every other failure without parsing messages.
const codeNotExist = 44

const (
	readScript = `[ -e "$1" ] || exit 44
exec cat -- "$1"`

	statScript = `[ -e "$1" ] || [ -L "$1" ] || exit 44
stat -c '%f %u %g %s %U %G' -- "$1" || exit
if [ -L "$1" ]; then readlink -- "$1"; fi`

	// The temp file is created by mktemp (mode 0600, so the data is never
	// readable by others), filled, fsynced, chmod'ed and chown'ed before
	// mv renames it over the target: readers see the old or the new file.
	// mv -T never moves into a directory that happens to sit at $1.
	writeScript = `set -e
umask 022
mkdir -p -- "$2"
tmp=$(mktemp "$2/.myapp-tmp.XXXXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
cat > "$tmp"
chmod "$3" -- "$tmp"
chown "$4" -- "$tmp"
sync -- "$tmp" 2>/dev/null || sync
mv -f -T -- "$tmp" "$1"
trap - EXIT
sync -- "$2" 2>/dev/null || :`

	mkdirScript = `set -e
umask 022
mkdir -p -- "$1"
chmod "$2" -- "$1"
chown "$3" -- "$1"`

	// ln -sf alone unlinks and recreates, leaving a moment with no link; a
	// rename of a fresh link over the old one has no such moment.
	symlinkScript = `set -e
umask 022
mkdir -p -- "$4"
ln -s -- "$1" "$2"
mv -f -T -- "$2" "$3" || { rm -f -- "$2"; exit 1; }
sync -- "$4" 2>/dev/null || :`

	removeScript = `if [ -d "$1" ] && [ ! -L "$1" ]; then exec rmdir -- "$1"; fi
exec rm -f -- "$1"`
)

// script runs one of the scripts above with args as $1, $2, ...
func (s *shellFiles) script(ctx context.Context, script string, stdin []byte, args ...string) ([]byte, error) {
	c := Cmd{Argv: append([]string{"sh", "-c", script, "sh"}, args...)}
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	out, err := s.run(ctx, c)
	if ee := (*ExitError)(nil); errors.As(err, &ee) && ee.Code == codeNotExist {
		return nil, fs.ErrNotExist
	}
	return out, err
}

func (s *shellFiles) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := checkPath(p); err != nil {
		return nil, fmt.Errorf("%s: read: %w", s.name, err)
	}
	out, err := s.script(ctx, readScript, nil, p)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", s.name, p, err)
	}
	return out, nil
}

func (s *shellFiles) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := checkPath(p); err != nil {
		return FileInfo{}, fmt.Errorf("%s: stat: %w", s.name, err)
	}
	out, err := s.script(ctx, statScript, nil, p)
	if err == nil {
		var fi FileInfo
		fi, err = parseStat(out)
		if err == nil {
			return fi, nil
		}
	}
	return FileInfo{}, fmt.Errorf("%s: stat %s: %w", s.name, p, err)
}

// parseStat reads statScript's output: "%f %u %g %s %U %G", then the link
// target (which may contain anything but NUL, newlines included).
func parseStat(out []byte) (FileInfo, error) {
	line, rest, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) != 6 {
		return FileInfo{}, fmt.Errorf("parse stat output %q", line)
	}
	raw, err1 := strconv.ParseUint(f[0], 16, 32)
	size, err2 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return FileInfo{}, fmt.Errorf("parse stat output %q: %w", line, err)
	}
	user, group := f[4], f[5]
	if user == "UNKNOWN" {
		user = f[1]
	}
	if group == "UNKNOWN" {
		group = f[2]
	}
	fi := FileInfo{Mode: fileMode(uint32(raw)), Owner: user + ":" + group, Size: size}
	if fi.Mode&fs.ModeSymlink != 0 {
		fi.Symlink = strings.TrimSuffix(rest, "\n")
	}
	return fi, nil
}

func (s *shellFiles) WriteFile(ctx context.Context, f FileSpec) error {
	owner, err := chownSpec(f.Owner)
	if err == nil {
		err = checkPath(f.Path)
	}
	if err != nil {
		return fmt.Errorf("%s: write: %w", s.name, err)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	data := f.Data
	if data == nil {
		data = []byte{} // non-nil: the script must get an empty stdin, not none
	}
	_, err = s.script(ctx, writeScript, data, f.Path, path.Dir(f.Path), octal(mode), owner)
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", s.name, f.Path, err)
	}
	return nil
}

func (s *shellFiles) MkdirAll(ctx context.Context, p string, mode fs.FileMode, owner string) error {
	own, err := chownSpec(owner)
	if err == nil {
		err = checkPath(p)
	}
	if err != nil {
		return fmt.Errorf("%s: create directory: %w", s.name, err)
	}
	if mode == 0 {
		mode = 0o755
	}
	if _, err := s.script(ctx, mkdirScript, nil, p, octal(mode), own); err != nil {
		return fmt.Errorf("%s: create directory %s: %w", s.name, p, err)
	}
	return nil
}

func (s *shellFiles) Symlink(ctx context.Context, target, link string) error {
	if err := checkPath(link); err != nil {
		return fmt.Errorf("%s: link: %w", s.name, err)
	}
	dir := path.Dir(link)
	if _, err := s.script(ctx, symlinkScript, nil, target, tempName(dir, "link"), link, dir); err != nil {
		return fmt.Errorf("%s: link %s to %s: %w", s.name, link, target, err)
	}
	return nil
}

func (s *shellFiles) Remove(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return fmt.Errorf("%s: remove: %w", s.name, err)
	}
	if _, err := s.script(ctx, removeScript, nil, p); err != nil {
		return fmt.Errorf("%s: remove %s: %w", s.name, p, err)
	}
	return nil
}

// octal formats a mode for chmod(1). The extra leading zero matters: GNU
// chmod keeps a directory's setgid bit for a 4-digit mode but not for 5.
func octal(m fs.FileMode) string { return fmt.Sprintf("0%04o", unixMode(m)) }

// tempName returns a hidden, unpredictable name in dir for a file that is
// about to be renamed into place.
func tempName(dir, kind string) string {
	return path.Join(dir, ".myapp-"+kind+"."+rand.Text()[:12])
}
