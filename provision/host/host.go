// Package host is the transport myapp uses to act on a machine: run commands,
// read and atomically write files, and dial TCP from the machine's point of
// view. Two implementations exist, Local (the machine myapp runs on) and SSH;
// both pass the conformance suite in hosttest.
package host

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
)

// Cmd is a command to run on a host, as data: an argv (never a shell string),
// optional stdin and environment. Commands are values so plans can print them
// and tests can compare them.
type Cmd struct {
	Argv  []string
	Stdin io.Reader
	// Env holds extra KEY=VALUE pairs. They are passed with env(1), so they
	// survive sudo's environment reset and need no AcceptEnv on the server,
	// but they are visible in the host's process list while the command
	// runs: hand secrets over on Stdin instead.
	Env []string
	// Secret marks a command whose arguments must not be printed in full.
	// Errors from Run only ever name Argv[0].
	Secret bool
}

// FileSpec describes a file to write: its full content, mode and owner.
type FileSpec struct {
	Path  string
	Data  []byte
	Mode  fs.FileMode // permission bits, e.g. 0600; zero means 0644
	Owner string      // "user:group" ("user" alone: the user's login group); empty means root:root
}

// FileInfo is the part of a file's metadata that plans compare.
type FileInfo struct {
	// Mode holds the permission bits, setuid/setgid/sticky, and the type
	// bits (fs.ModeDir, fs.ModeSymlink, ...); a regular file has none.
	Mode    fs.FileMode
	Owner   string // "user:group", numeric ids when the names are unknown
	Size    int64
	Symlink string // link target when Mode&fs.ModeSymlink != 0
}

// ExitError is returned by Run when the command ran and exited non-zero.
type ExitError struct {
	Argv   []string
	Code   int // -1 when the command was killed by a signal
	Stderr string
}

func (e *ExitError) Error() string {
	// The tail of stderr is where tools put the reason they failed; the
	// head is usually progress output.
	msg := e.Stderr
	if len(msg) > 2000 {
		msg = msg[len(msg)-2000:]
	}
	msg = strings.TrimRight(msg, "\r\n")
	if msg == "" {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return "exit status " + strconv.Itoa(e.Code) + ": " + msg
}

// ErrNotExist is matched (errors.Is) by errors for missing files.
var ErrNotExist = fs.ErrNotExist

// Host is a machine that myapp provisions.
//
// Implementations are safe for concurrent use by multiple goroutines: steps
// for one host run in order, but the ACME client may write challenge files
// while another goroutine waits on a command. Every method honours ctx.
// Errors name the host ("web1: run apt-get: exit status 100: ..."); paths
// are absolute.
type Host interface {
	// Name is a short label for messages, e.g. "web1" or "local".
	Name() string

	// Run runs argv (as root: via sudo when the login user is not root) and
	// returns its stdout. A non-zero exit is an *ExitError (errors.As works
	// through the wrapping that names the host). When ctx ends, Run returns
	// ctx.Err() at once and stops the command where the transport can: a
	// root login over SSH cannot signal it, so it runs on, hung up.
	Run(ctx context.Context, c Cmd) (stdout []byte, err error)

	// ReadFile returns a file's content; a missing file is fs.ErrNotExist.
	ReadFile(ctx context.Context, path string) ([]byte, error)

	// Stat describes path without following a final symlink; a missing file
	// is fs.ErrNotExist.
	Stat(ctx context.Context, path string) (FileInfo, error)

	// WriteFile replaces a file atomically (temp file in the same directory,
	// fsync, chmod, chown, rename), creating parent directories (0755) as needed.
	// Readers see the old content or the new one, never a mix.
	WriteFile(ctx context.Context, f FileSpec) error

	// Remove deletes a file or an empty directory; a missing path is not an error.
	Remove(ctx context.Context, path string) error

	// MkdirAll creates a directory and its parents with mode (zero means
	// 0755) and owner applied to the last element (also when it already
	// exists); parents it creates get 0755 and root.
	MkdirAll(ctx context.Context, path string, mode fs.FileMode, owner string) error

	// Symlink atomically points link at target (replacing an existing link,
	// never following it into a directory), creating link's parents.
	Symlink(ctx context.Context, target, link string) error

	// Dial opens a TCP connection from the host's point of view, e.g. to
	// 127.0.0.1:443 on the host (over SSH: a direct-tcpip channel).
	Dial(ctx context.Context, network, addr string) (net.Conn, error)

	// Close releases the connection. The Host is unusable afterwards.
	Close() error
}

// IsNotExist reports whether err means a missing file.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
