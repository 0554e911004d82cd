package host_test

// This file runs the conformance suite (hosttest) against every transport
// and every way of becoming root: Local as root, Local through sudo, SSH as
// root and SSH as a user with sudo.

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/host/hosttest"
)

func TestLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		requireOrSkip(t, "the Local suite runs as root (it chowns and checks id -u)")
	}
	hosttest.Run(t, func(t *testing.T) host.Host { return host.NewLocal() }, t.TempDir())
}

// TestLocalSudo runs the suite through the path a non-root myapp takes:
// sudo -n for commands and the sh scripts for files.
func TestLocalSudo(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil || os.Geteuid() != 0 {
		requireOrSkip(t, "needs root and sudo (apt-get install sudo)")
	}
	hosttest.Run(t, func(t *testing.T) host.Host { return host.NewLocalSudo() }, t.TempDir())
}

// requireOrSkip skips a test whose prerequisite is missing, except in CI,
// where a skipped test would hide that the prerequisite was never installed.
func requireOrSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// isolate keeps the developer's or CI's own agent and keys out of a test.
func isolate(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv(host.EnvSSHKey, "")
	t.Setenv("HOME", t.TempDir())
}

func dial(t *testing.T, cfg host.SSHConfig) host.Host {
	t.Helper()
	h, err := host.DialSSH(context.Background(), cfg)
	if err != nil {
		t.Fatalf("DialSSH: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestSSH runs the conformance suite as root over a real sshd.
func TestSSH(t *testing.T) {
	isolate(t)
	d := startSSHD(t)
	hosttest.Run(t, func(t *testing.T) host.Host {
		h, err := host.DialSSH(t.Context(), d.config())
		if err != nil {
			t.Fatalf("DialSSH: %v", err)
		}
		return h
	}, t.TempDir())
}

// TestSSHSudo logs in as a non-root user whose sudo needs no password, the
// setup DESIGN.md allows instead of root, and runs the whole suite: every
// command and file operation must go through sudo and still act as root.
func TestSSHSudo(t *testing.T) {
	for _, tool := range []string{"useradd", "userdel", "sudo", "visudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			requireOrSkip(t, tool+" not installed (apt-get install passwd sudo)")
		}
	}
	isolate(t)
	d := startSSHD(t)
	user := addUser(t, d.dir)
	d.authorize(t, user, d.clientKey.Public())
	cfg := d.config()
	cfg.User = user

	// Without a sudoers rule, sudo -n must fail at once, not wait for a
	// password nobody can type.
	h := dial(t, cfg)
	start := time.Now()
	_, err := h.Run(t.Context(), host.Cmd{Argv: []string{"id", "-u"}})
	var xe *host.ExitError
	if !errors.As(err, &xe) || !strings.Contains(xe.Stderr, "sudo") || time.Since(start) > 10*time.Second {
		t.Fatalf("Run without sudo rights = %v, want sudo's own error at once", err)
	}

	allowSudo(t, user)
	hosttest.Run(t, func(t *testing.T) host.Host {
		h, err := host.DialSSH(t.Context(), cfg)
		if err != nil {
			t.Fatalf("DialSSH: %v", err)
		}
		return h
	}, mkdirTemp(t))
}

// addUser creates a throwaway login user with /bin/sh (dash on Debian, so
// the quoting is also proven against a shell other than root's bash).
func addUser(t *testing.T, home string) string {
	t.Helper()
	user := "myapp-t" + strings.ToLower(rand.Text()[:8])
	// "*" is an unusable password that still leaves the account unlocked,
	// which sshd (without PAM) requires even for key logins.
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", home,
		"--shell", "/bin/sh", "--password", "*", user).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// -f: sessions of the user may still be closing.
		if out, err := exec.Command("userdel", "-f", user).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", user, err, out)
		}
	})
	return user
}

// allowSudo installs a NOPASSWD drop-in for user, checked by visudo, and
// removes it when the test ends.
func allowSudo(t *testing.T, user string) {
	t.Helper()
	// sudo ignores drop-ins whose names contain a dot.
	name := filepath.Join("/etc/sudoers.d", strings.ReplaceAll(user, ".", "_"))
	if err := os.WriteFile(name, []byte(user+" ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(name) })
	if out, err := exec.Command("visudo", "-c", "-f", name).CombinedOutput(); err != nil {
		t.Fatalf("visudo: %v\n%s", err, out)
	}
}
