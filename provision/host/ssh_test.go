package host_test

import (
	"context"
	"testing"

	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/host/hosttest"
)

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
