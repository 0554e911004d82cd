package host_test

import (
	"os"
	"os/exec"
	"testing"

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
