package host_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/agent"

	"github.com/myapp/myapp/provision/host"
)

func TestSSHAuth(t *testing.T) {
	isolate(t)
	d := startSSHD(t)
	home := os.Getenv("HOME") // isolate made it an empty temp dir

	// A key in an agent, and the same key on disk behind a passphrase.
	agentKey := newEd25519(t)
	d.authorize(t, "root", agentKey.Public())
	locked := filepath.Join(d.dir, "id_locked")
	writePEM(t, locked, agentKey, "correct horse")
	sock := startAgent(t, agentKey)

	// A key for MYAPP_SSH_KEY, and one the server does not know.
	envKey := newEd25519(t)
	d.authorize(t, "root", envKey.Public())
	envPEM := string(writePEM(t, "", envKey, ""))
	stranger := filepath.Join(d.dir, "id_stranger")
	writePEM(t, stranger, newEd25519(t), "")

	// "~/" in identity_file, and the default identity file of ssh.
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(home, "deploy_key"), d.clientKey, "")

	tests := []struct {
		name     string
		identity string
		env      map[string]string
		defaults bool   // put the root key at ~/.ssh/id_ed25519
		want     string // "" success, else a substring of the error
	}{
		{"identity file", d.keyFile, nil, false, ""},
		{"identity file with ~", "~/deploy_key", nil, false, ""},
		{"default identity file", "", nil, true, ""},
		{"MYAPP_SSH_KEY", "", map[string]string{host.EnvSSHKey: envPEM}, false, ""},
		{"MYAPP_SSH_KEY before an unknown identity", stranger, map[string]string{host.EnvSSHKey: envPEM}, false, ""},
		{"agent", "", map[string]string{"SSH_AUTH_SOCK": sock}, false, ""},
		{"locked identity file unlocked by the agent", locked, map[string]string{"SSH_AUTH_SOCK": sock}, false, ""},
		{"locked identity file without agent", locked, nil, false, "passphrase-protected and no ssh-agent"},
		{"locked MYAPP_SSH_KEY without agent", "", map[string]string{host.EnvSSHKey: string(writePEM(t, "", envKey, "pw"))}, false, "MYAPP_SSH_KEY: key is passphrase-protected"},
		{"MYAPP_SSH_KEY with escaped newlines", "", map[string]string{host.EnvSSHKey: strings.ReplaceAll(envPEM, "\n", `\n`)}, false, ""},
		{"garbage MYAPP_SSH_KEY", "", map[string]string{host.EnvSSHKey: "hunter2-not-a-key"}, false, "parse private key in MYAPP_SSH_KEY"},
		{"missing identity file", filepath.Join(d.dir, "nope"), nil, false, "read identity file"},
		{"missing identity file with MYAPP_SSH_KEY set", filepath.Join(d.dir, "nope"), map[string]string{host.EnvSSHKey: envPEM}, false, "hint: identity_file names a key that is not there"},
		{"dead agent socket and no key", "", map[string]string{"SSH_AUTH_SOCK": filepath.Join(d.dir, "gone.sock")}, false, "no ssh key found (connect to ssh-agent"},
		{"no key at all", "", nil, false, "no ssh key found"},
		{"key not authorized", stranger, nil, false, "unable to authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			def := filepath.Join(home, ".ssh", "id_ed25519")
			os.Remove(def)
			if tt.defaults {
				writePEM(t, def, d.clientKey, "")
			}
			cfg := d.config()
			cfg.IdentityFile = tt.identity
			h, err := host.DialSSH(t.Context(), cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("DialSSH: %v", err)
				}
				defer h.Close()
				if out, err := h.Run(t.Context(), host.Cmd{Argv: []string{"id", "-u"}}); err != nil || string(out) != "0\n" {
					t.Errorf("id -u = %q, %v", out, err)
				}
				return
			}
			if err == nil {
				h.Close()
				t.Fatalf("DialSSH succeeded, want an error with %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "web1: ") || !strings.Contains(msg, "hint: ") && tt.name != "missing identity file" {
				t.Errorf("error should name web1, say %q and give a hint:\n%s", tt.want, msg)
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "PRIVATE KEY") {
				t.Errorf("error leaks key material:\n%s", msg)
			}
		})
	}
}

// startAgent serves an in-memory ssh-agent holding keys on a unix socket,
// speaking the real agent protocol.
func startAgent(t *testing.T, keys ...any) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(ring, c); c.Close() }()
		}
	}()
	return sock
}
