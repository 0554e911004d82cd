package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// local is the machine myapp runs on. As root it calls the kernel
// directly; otherwise every command goes through "sudo -n" and the file
// operations become the same sh scripts SSH uses, run through sudo, because
// a non-root process cannot write /etc or chown to root itself.
type local struct {
	sudo  bool
	files *shellFiles // file operations when sudo is set
}

// NewLocal returns the Host for the machine myapp runs on, named "local".
// When myapp is not running as root it uses sudo without a prompt (sudo -n):
// a sudo that wants a password fails fast with sudo's own message.
func NewLocal() Host { return newLocal(os.Geteuid() != 0) }

func newLocal(sudo bool) *local {
	l := &local{sudo: sudo}
	l.files = &shellFiles{name: l.Name(), run: l.run}
	return l
}

func (l *local) Name() string { return "local" }

func (l *local) Run(ctx context.Context, c Cmd) ([]byte, error) {
	out, err := l.run(ctx, c)
	if err != nil {
		return out, fmt.Errorf("%s: run %s: %w", l.Name(), cmdName(c), err)
	}
	return out, nil
}

// waitDelay bounds how long Run waits for a cancelled command's pipes: a
// grandchild that inherited stdout could otherwise keep Run blocked.
const waitDelay = 3 * time.Second

func (l *local) run(ctx context.Context, c Cmd) ([]byte, error) {
	argv, err := commandArgv(c, l.sudo)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), c.Env...)
	// A process group of its own lets cancellation reach the whole tree
	// (apt-get's dpkg, a shell's children), not just the first process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// We may not signal the root-owned processes below sudo, but sudo
		// relays SIGTERM to its command; as root, SIGKILL the group.
		sig := syscall.SIGKILL
		if l.sudo {
			sig = syscall.SIGTERM
		}
		return syscall.Kill(-cmd.Process.Pid, sig)
	}
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if xe := (*exec.ExitError)(nil); errors.As(err, &xe) {
		return stdout.Bytes(), &ExitError{Argv: c.Argv, Code: xe.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return nil, unwrapPath(err)
	}
	return stdout.Bytes(), nil
}

func (l *local) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", l.Name(), addr, err)
	}
	return conn, nil
}

// Close does nothing: a local host holds no connection.
func (l *local) Close() error { return nil }

// cmdName is what error messages call a command: only its first word, so
// that arguments (maybe secret, see Cmd.Secret) never reach a log.
func cmdName(c Cmd) string {
	if len(c.Argv) == 0 {
		return "command"
	}
	return c.Argv[0]
}

// unwrapPath drops the *fs.PathError layer (its op and path repeat what our
// own wrapping says) but keeps the errno, so errors.Is still matches
// fs.ErrNotExist and friends.
func unwrapPath(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
