package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sshArgs are the OpenSSH client options that reach this machine and only
// this machine, with strict host key checking.
func (m *Machine) sshArgs() []string {
	return []string{"-F", "/dev/null", "-p", strconv.Itoa(m.Port), "-i", m.IdentityFile,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + m.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR",
		m.User + "@127.0.0.1"}
}

// Run runs argv as root inside the machine (over SSH) and returns its
// combined stdout and stderr. A non-zero exit is an error that includes the
// output; the output is returned too.
func (m *Machine) Run(ctx context.Context, argv ...string) (string, error) {
	return m.RunInput(ctx, nil, argv...)
}

// RunInput is Run with stdin.
func (m *Machine) RunInput(ctx context.Context, stdin io.Reader, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("run: empty argv")
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = ShellQuote(a)
	}
	args := append(m.sshArgs(), "--", strings.Join(quoted, " "))
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdin = stdin
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		return buf.String(), fmt.Errorf("run %s on %s: %w: %s", strings.Join(argv, " "), m.Name, err, strings.TrimSpace(buf.String()))
	}
	return buf.String(), nil
}

// ExecResult is one command run by Exec.
type ExecResult struct {
	Stdout, Stderr string
	Code           int // the command's exit status
}

// Exec runs argv as root inside the machine (over SSH) with stdin, keeping
// stdout and stderr apart, and returns its exit status. The error is only
// for failures to run it at all (ssh itself failing exits 255).
func (m *Machine) Exec(ctx context.Context, stdin io.Reader, argv ...string) (ExecResult, error) {
	if len(argv) == 0 {
		return ExecResult{}, errors.New("exec: empty argv")
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = ShellQuote(a)
	}
	cmd := exec.CommandContext(ctx, "ssh", append(m.sshArgs(), "--", strings.Join(quoted, " "))...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := ExecResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() != 255 && ctx.Err() == nil:
		r.Code = exit.ExitCode()
	default:
		return r, fmt.Errorf("exec %s on %s: %w: %s", strings.Join(argv, " "), m.Name, err, strings.TrimSpace(r.Stderr))
	}
	return r, nil
}

// Path is the path on this machine of the container's absolute path p.
func (m *Machine) Path(p string) string {
	return filepath.Join(m.Root, filepath.FromSlash(p))
}

// Diagnose collects what helps explain a failure: failed units, the journal
// of the given units, nginx's error log and the console tail. Best effort.
func (m *Machine) Diagnose(ctx context.Context, units ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b strings.Builder
	out, _ := m.Run(ctx, "systemctl", "--failed", "--no-pager")
	fmt.Fprintf(&b, "== systemctl --failed\n%s\n", out)
	args := []string{"journalctl", "--no-pager", "-n", "200"}
	for _, u := range units {
		args = append(args, "-u", u)
	}
	out, _ = m.Run(ctx, args...)
	fmt.Fprintf(&b, "== %s\n%s\n", strings.Join(args, " "), out)
	if data, err := os.ReadFile(m.Path("/var/log/nginx/error.log")); err == nil {
		fmt.Fprintf(&b, "== /var/log/nginx/error.log\n%s\n", lastBytes(data, 4000))
	}
	fmt.Fprintf(&b, "== console\n%s\n", tail(m.ConsoleLog, 2000))
	return b.String()
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
