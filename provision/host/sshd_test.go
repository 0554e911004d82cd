package host_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/myapp/myapp/provision/host"
)

// sshd is a real OpenSSH server on a loopback port, started for one test
// with its own host keys, authorized keys and configuration, so the SSH
// transport is proven against the server it will meet in production.
type sshd struct {
	addr, port string
	dir        string
	cmd        *exec.Cmd
	log        *lockedBuffer

	hostKeys   []ssh.Signer // ed25519 first, then ecdsa: the server offers both
	clientKey  ed25519.PrivateKey
	keyFile    string // clientKey as an OpenSSH PEM file, authorized for root
	knownHosts string // a known_hosts file holding the ed25519 host key
}

// startSSHD starts the server; extra lines are appended to sshd_config.
func startSSHD(t *testing.T, extra ...string) *sshd {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		bin = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(bin); err != nil {
		requireOrSkip(t, "sshd not installed (apt-get install openssh-server)")
	}
	if os.Geteuid() != 0 {
		requireOrSkip(t, "sshd tests run as root (sshd must switch users)")
	}
	// sshd refuses to start without its privilege separation directory,
	// which only the distribution's service unit would create.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	d := &sshd{dir: mkdirTemp(t), log: &lockedBuffer{}}
	for i, priv := range []any{newEd25519(t), newECDSA(t)} {
		name := filepath.Join(d.dir, fmt.Sprintf("host_key_%d", i))
		writePEM(t, name, priv, "")
		s, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		d.hostKeys = append(d.hostKeys, s)
	}
	d.clientKey = newEd25519(t)
	d.keyFile = filepath.Join(d.dir, "id_ed25519")
	writePEM(t, d.keyFile, d.clientKey, "")
	d.authorize(t, "root", d.clientKey.Public())

	for attempt := 0; ; attempt++ {
		err := d.start(t, bin, extra)
		if err == nil {
			break
		}
		if attempt == 2 { // the port may have been taken between probe and bind
			t.Fatalf("start sshd: %v\n%s", err, d.log)
		}
	}
	d.knownHosts = filepath.Join(d.dir, "known_hosts")
	d.writeKnownHosts(t, d.knownHosts, knownhosts.Line([]string{knownhosts.Normalize(d.addr)}, d.hostKeys[0].PublicKey()))
	return d
}

func (d *sshd) start(t *testing.T, bin string, extra []string) error {
	d.port = freePort(t)
	d.addr = net.JoinHostPort("127.0.0.1", d.port)
	conf := filepath.Join(d.dir, "sshd_config")
	cfg := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s/host_key_0
HostKey %s/host_key_1
AuthorizedKeysFile %s/authorized_keys.%%u
PidFile none
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
LogLevel VERBOSE
`, d.port, d.dir, d.dir, d.dir) + strings.Join(extra, "\n")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return err
	}
	d.log.Reset()
	d.cmd = exec.Command(bin, "-D", "-e", "-f", conf)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", d.log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("sshd exited: %v", err)
		default:
		}
		if banner(d.addr) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("sshd did not answer on %s", d.addr)
}

// banner reports whether an SSH server greets on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	b := make([]byte, 8)
	n, _ := c.Read(b)
	return bytes.HasPrefix(b[:n], []byte("SSH-2.0"))
}

// authorize adds a key to user's authorized keys file. sshd reads it as
// that user, hence world-readable.
func (d *sshd) authorize(t *testing.T, user string, pub any) {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "authorized_keys."+user), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(k)); err != nil {
		t.Fatal(err)
	}
}

func (d *sshd) writeKnownHosts(t *testing.T, name string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is how a test connects as root with the defaults of a host entry.
func (d *sshd) config() host.SSHConfig {
	return host.SSHConfig{
		Name: "web1", Address: d.addr, User: "root",
		IdentityFile: d.keyFile, KnownHostsFile: d.knownHosts,
		ConnectTimeout: 10 * time.Second,
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// mkdirTemp makes a directory other users can traverse: sshd reads the
// authorized keys of a non-root test user with that user's rights.
func mkdirTemp(t *testing.T) string {
	dir, err := os.MkdirTemp("", "myapp-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newECDSA(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writePEM writes priv as an OpenSSH private key file, encrypted when a
// passphrase is given.
func writePEM(t *testing.T, name string, priv any, passphrase string) []byte {
	t.Helper()
	var b *pem.Block
	var err error
	if passphrase == "" {
		b, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		b, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(b)
	if name != "" {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Reset() { l.mu.Lock(); l.b.Reset(); l.mu.Unlock() }

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
