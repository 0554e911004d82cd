package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// rootfsName names the cached tarball; bump it when the package set changes.
const rootfsName = "bookworm-v1"

// rootfsPackages are what a fresh "cloud image" host has: systemd, sshd,
// sudo. nginx is deliberately absent: myapp init must install it.
var rootfsPackages = []string{"systemd", "systemd-sysv", "dbus", "openssh-server", "sudo", "ca-certificates"}

// Rootfs returns the path of the cached pristine rootfs tarball, building it
// first when missing (debootstrap, about a minute, needs the Debian mirror).
// A file lock keeps concurrent callers from building it twice; a complete
// debootstrap left in CacheDir()/rootfs-build is reused.
func Rootfs(ctx context.Context) (string, error) {
	dir := CacheDir()
	tarball := filepath.Join(dir, rootfsName+".tar")
	if _, err := os.Stat(tarball); err == nil {
		return tarball, nil
	}
	unlock, err := flock(ctx, filepath.Join(dir, "rootfs.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(tarball); err == nil {
		return tarball, nil // built by whoever held the lock
	}

	build := filepath.Join(dir, "rootfs-build")
	if !rootfsComplete(build) {
		if err := os.RemoveAll(build); err != nil {
			return "", fmt.Errorf("remove incomplete rootfs: %w", err)
		}
		if err := debootstrap(ctx, build, filepath.Join(dir, "debootstrap.log")); err != nil {
			return "", err
		}
	}
	if err := ensureHostKeys(ctx, build); err != nil {
		return "", err
	}

	tmp := tarball + ".tmp"
	cmd := exec.CommandContext(ctx, "tar", "-C", build, "--numeric-owner", "--xattrs", "--xattrs-include=*",
		"-cpf", tmp, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("pack rootfs: %w: %s", err, out)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		return "", fmt.Errorf("pack rootfs: %w", err)
	}
	return tarball, nil
}

// rootfsComplete reports whether dir holds a finished debootstrap: debootstrap
// removes its own work directory only when it succeeds.
func rootfsComplete(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "debootstrap")); err == nil {
		return false
	}
	for _, p := range []string{"usr/sbin/sshd", "lib/systemd/systemd", "usr/bin/sudo", "usr/bin/dbus-daemon", "etc/os-release"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

func debootstrap(ctx context.Context, dir, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(rootfsPackages, ","),
		"bookworm", dir, "http://deb.debian.org/debian")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap bookworm into %s: %w (log %s):\n%s", dir, err, logPath, tail(logPath, 2000))
	}
	return nil
}

// ensureHostKeys generates sshd host keys in the rootfs when the package
// install did not (ssh-keygen -A with a prefix writes ROOT/etc/ssh/...).
func ensureHostKeys(ctx context.Context, root string) error {
	if _, err := os.Stat(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key.pub")); err == nil {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-A", "-f", root).CombinedOutput(); err != nil {
		return fmt.Errorf("generate host keys: %w: %s", err, out)
	}
	return nil
}
