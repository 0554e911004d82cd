// Package testenv provides the real peers that myapp's end-to-end tests and
// demo run against: a fresh Debian 12 host with systemd booted in
// systemd-nspawn and reachable over SSH, Pebble (Let's Encrypt's test CA) with
// its DNS server, and a stub API backend.
//
// Everything here shares this machine's network namespace: the booted host's
// nginx answers on 127.0.0.1:80/443, Pebble on 127.0.0.1:14000, the stub on
// 127.0.0.1:8000. Only one user of those ports can exist at a time, so callers
// that may run concurrently (go test runs packages in parallel) hold Lock.
//
// The package is ordinary code, not _test code, so that the demo program
// (cmd/demo) can use it too. It needs root, debootstrap, systemd-nspawn, tar,
// ssh and ssh-keygen; Prereqs reports what is missing.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// CacheDir is where the pristine rootfs tarball and the Pebble binaries are
// kept between runs. MYAPP_E2E_CACHE overrides it.
func CacheDir() string {
	if d := os.Getenv("MYAPP_E2E_CACHE"); d != "" {
		return d
	}
	return "/var/cache/myapp-e2e"
}

// Prereqs reports why this machine cannot run the environment, or nil.
func Prereqs() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "must run as root")
	}
	if runtime.GOOS != "linux" {
		missing = append(missing, "needs linux")
	}
	for _, bin := range []string{"systemd-nspawn", "debootstrap", "tar", "ssh", "ssh-keygen", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" not found in PATH")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("testenv prerequisites missing: %s (hint: apt-get install debootstrap systemd-container openssh-client, run as root)", strings.Join(missing, "; "))
	}
	return nil
}

// Lock takes the machine-wide lock that guards the fixed ports used by a test
// environment (:80, :443, :8000, :8053, :14000, :15000). It waits until the
// lock is free or ctx ends. The returned func releases it.
//
// Take it once per process: the lock is not reentrant.
func Lock(ctx context.Context) (unlock func(), err error) { return LockNotify(ctx, nil) }

// LockNotify is Lock, calling waiting (when not nil) once if another
// process holds the lock, before it waits.
func LockNotify(ctx context.Context, waiting func()) (unlock func(), err error) {
	// The ports are the machine's, whatever cache directory is in use.
	dir := "/run/lock"
	if _, err := os.Stat(dir); err != nil {
		dir = os.TempDir()
	}
	return flockNotify(ctx, filepath.Join(dir, "myapp-e2e-machine.lock"), waiting)
}

// flock takes an exclusive advisory lock on path, polling so ctx can end the
// wait.
func flock(ctx context.Context, path string) (func(), error) { return flockNotify(ctx, path, nil) }

func flockNotify(ctx context.Context, path string, waiting func()) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// RepoRoot is the directory of myapp's go.mod (found from this source file,
// which works for go test and go run inside the repository).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	return "", errors.New("find repository root: go.mod not found")
}

// CheckPortsFree fails when something on this machine already listens on one
// of the TCP ports (any address), naming the listener when ss can tell.
func CheckPortsFree(ports ...int) error {
	var busy []string
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			busy = append(busy, fmt.Sprintf(":%d (%s)", p, listenerOf(p)))
			continue
		}
		l.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("ports already in use on this machine: %s (hint: stop the host's nginx with 'nginx -s stop' or a leftover test container)", strings.Join(busy, ", "))
	}
	return nil
}

func listenerOf(port int) string {
	out, err := exec.Command("ss", "-Hltnp", fmt.Sprintf("sport = :%d", port)).Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return "unknown listener"
	}
	return strings.Join(strings.Fields(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])), " ")
}

// freePort asks the kernel for an unused loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP polls addr until it accepts a connection or the timeout passes.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %v)", addr, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}
