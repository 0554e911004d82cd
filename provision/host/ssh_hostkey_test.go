package host_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/myapp/myapp/provision/host"
)

func TestSSHHostKey(t *testing.T) {
	isolate(t)
	d := startSSHD(t)
	ed, ec := d.hostKeys[0].PublicKey(), d.hostKeys[1].PublicKey()
	other, err := ssh.NewPublicKey(newEd25519(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	addr := knownhosts.Normalize(d.addr) // "[127.0.0.1]:port"
	authorized := func(k ssh.PublicKey) string { return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) }

	tests := []struct {
		name       string
		knownHosts []string // nil: no known_hosts file at all
		pin        string
		want       string // "" success, else "unknown", "mismatch" or "revoked"
	}{
		{"known ed25519 while the server prefers another key", []string{knownhosts.Line([]string{addr}, ed)}, "", ""},
		{"known ecdsa only", []string{knownhosts.Line([]string{addr}, ec)}, "", ""},
		{"hashed entry", []string{knownhosts.HashHostname(addr) + " " + authorized(ed)}, "", ""},
		{"no known_hosts file", nil, "", "unknown"},
		{"empty known_hosts", []string{"# nothing yet"}, "", "unknown"},
		{"entry for another port", []string{knownhosts.Line([]string{"[127.0.0.1]:1"}, ed)}, "", "unknown"},
		{"entry without port means 22", []string{knownhosts.Line([]string{"127.0.0.1"}, ed)}, "", "unknown"},
		{"different key on record", []string{knownhosts.Line([]string{addr}, other)}, "", "mismatch"},
		{"revoked", []string{"@revoked * " + authorized(ed), knownhosts.Line([]string{addr}, ed)}, "", "revoked"},
		{"pinned ed25519", nil, authorized(ed), ""},
		{"pinned ecdsa", nil, authorized(ec), ""},
		{"pinned beats known_hosts", []string{knownhosts.Line([]string{addr}, other)}, authorized(ed), ""},
		{"pinned wrong key", []string{knownhosts.Line([]string{addr}, ed)}, authorized(other), "mismatch"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := d.config()
			cfg.KnownHostsFile = filepath.Join(d.dir, "kh"+string(rune('a'+i)))
			if tt.knownHosts != nil {
				d.writeKnownHosts(t, cfg.KnownHostsFile, tt.knownHosts...)
			}
			cfg.HostKey = tt.pin
			h, err := host.DialSSH(t.Context(), cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("DialSSH: %v", err)
				}
				h.Close()
				return
			}
			if err == nil {
				h.Close()
				t.Fatalf("DialSSH succeeded, want a %s host key error", tt.want)
			}
			var he *host.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a *host.HostKeyError", err)
			}
			fps := []string{ssh.FingerprintSHA256(ed), ssh.FingerprintSHA256(ec)}
			msg := err.Error()
			if !slices.Contains(fps, he.Fingerprint) || !strings.Contains(msg, he.Fingerprint) || !strings.HasPrefix(msg, "web1: ") {
				t.Errorf("error should name web1 and the offered fingerprint (one of %q):\n%s", fps, msg)
			}
			switch got := map[bool]string{true: "mismatch", false: "unknown"}[he.Mismatch()]; {
			case tt.want == "revoked":
				if !he.Revoked || !strings.Contains(msg, "@revoked") {
					t.Errorf("want a revoked key error, got:\n%s", msg)
				}
			case got != tt.want:
				t.Errorf("got a %s host key error, want %s:\n%s", got, tt.want, msg)
			case got == "mismatch":
				if !strings.Contains(msg, "HOST KEY MISMATCH") || !strings.Contains(msg, "man-in-the-middle") {
					t.Errorf("a mismatch must be loud:\n%s", msg)
				}
			default:
				hint := "ssh-keyscan -p " + d.port + " 127.0.0.1 >> " + cfg.KnownHostsFile
				if !strings.Contains(msg, hint) || !strings.Contains(msg, "host_key = ") {
					t.Errorf("unknown host error lacks the hint %q:\n%s", hint, msg)
				}
			}
		})
	}
}

// TestSSHUnknownHostHint follows the hint of an unknown host error to the
// letter and expects the next connection to succeed.
func TestSSHUnknownHostHint(t *testing.T) {
	if _, err := exec.LookPath("ssh-keyscan"); err != nil {
		requireOrSkip(t, "ssh-keyscan not installed (apt-get install openssh-client)")
	}
	isolate(t)
	d := startSSHD(t)
	cfg := d.config()
	cfg.KnownHostsFile = filepath.Join(d.dir, "fresh_known_hosts")
	_, err := host.DialSSH(t.Context(), cfg)
	var he *host.HostKeyError
	if !errors.As(err, &he) || he.Mismatch() {
		t.Fatalf("err = %v, want an unknown host key error", err)
	}
	_, cmd, ok := strings.Cut(err.Error(), "trust it with\n")
	cmd, _, _ = strings.Cut(cmd, "\n")
	if !ok {
		t.Fatalf("no command in the hint:\n%s", err)
	}
	if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	dial(t, cfg)
}
