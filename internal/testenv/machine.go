package testenv

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// HostOptions configures BootHost. The zero value is usable.
type HostOptions struct {
	// Name is the machine (and container hostname) name; default "myapp-e2e-<random>".
	Name string
	// SSHPort is the port sshd listens on at 127.0.0.1; default 2222 when
	// free, else any free port.
	SSHPort int
	// Hosts are names the container resolves to 127.0.0.1 through its
	// /etc/hosts, standing in for the public DNS records of a real host.
	Hosts []string
	// BootTimeout bounds the wait for systemd and sshd; default 2 minutes.
	BootTimeout time.Duration
	// SkipPortCheck skips the check that :80 and :443 are free.
	SkipPortCheck bool
}

// Machine is a booted throwaway host. Its sshd answers on Addr for User with
// the key in IdentityFile; KnownHostsFile holds its host key.
type Machine struct {
	Name         string
	Addr         string // "127.0.0.1:PORT"
	Port         int
	User         string // "root"
	IdentityFile string // private key, OpenSSH format, mode 0600
	// KnownHostsFile has every host key of the machine for [127.0.0.1]:PORT,
	// as ssh-keyscan writes them.
	KnownHostsFile string
	// KnownHostsEd25519File has only the ed25519 host key, which is what an
	// OpenSSH client records on a first connection: a client must then
	// negotiate ed25519 even though the server offers other key types.
	KnownHostsEd25519File string
	HostKey               string // the host's "ssh-ed25519 AAAA..." line
	Root                  string // the container's root directory on this machine
	ConsoleLog            string // systemd-nspawn's output (the container console)

	dir      string
	cmd      *exec.Cmd
	done     chan struct{} // closed when systemd-nspawn exits
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// BootHost extracts a fresh copy of the pristine rootfs, authorizes a new
// client key for root, and boots it with systemd-nspawn, returning once
// systemd reports running (or degraded) and sshd answers. Call Stop.
func BootHost(ctx context.Context, opts HostOptions) (m *Machine, err error) {
	if err := Prereqs(); err != nil {
		return nil, err
	}
	if !opts.SkipPortCheck {
		if err := CheckPortsFree(80, 443); err != nil {
			return nil, err
		}
	}
	tarball, err := Rootfs(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "myapp-e2e-" + randHex(4)
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 2 * time.Minute
	}
	if opts.SSHPort == 0 {
		opts.SSHPort = 2222
		if CheckPortsFree(2222) != nil {
			if opts.SSHPort, err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	if err := CheckPortsFree(opts.SSHPort); err != nil {
		return nil, err
	}

	removeStale()
	dir, err := os.MkdirTemp("", "myapp-host-")
	if err != nil {
		return nil, err
	}
	m = &Machine{
		Name:                  opts.Name,
		Port:                  opts.SSHPort,
		Addr:                  "127.0.0.1:" + strconv.Itoa(opts.SSHPort),
		User:                  "root",
		IdentityFile:          filepath.Join(dir, "id_ed25519"),
		KnownHostsFile:        filepath.Join(dir, "known_hosts"),
		KnownHostsEd25519File: filepath.Join(dir, "known_hosts.ed25519"),
		Root:                  filepath.Join(dir, "root"),
		ConsoleLog:            filepath.Join(dir, "console.log"),
		dir:                   dir,
		done:                  make(chan struct{}),
	}
	defer func() {
		if err != nil {
			_ = m.Stop()
			m = nil
		}
	}()

	if err := os.Mkdir(m.Root, 0o755); err != nil {
		return m, err
	}
	out, err := exec.CommandContext(ctx, "tar", "-C", m.Root, "--numeric-owner", "--xattrs", "--xattrs-include=*",
		"-xpf", tarball).CombinedOutput()
	if err != nil {
		return m, fmt.Errorf("extract rootfs: %w: %s", err, out)
	}
	if err := m.prepare(opts); err != nil {
		return m, fmt.Errorf("prepare rootfs: %w", err)
	}
	if err := m.start(); err != nil {
		return m, err
	}
	if err := m.waitReady(ctx, opts.BootTimeout); err != nil {
		return m, err
	}
	return m, nil
}

// prepare writes the client key, root's authorized_keys, the sshd drop-in,
// /etc/hosts entries and the known_hosts file.
func (m *Machine) prepare(opts HostOptions) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "myapp-e2e")
	if err != nil {
		return err
	}
	if err := os.WriteFile(m.IdentityFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	authorized := ssh.MarshalAuthorizedKey(sshPub)
	if err := os.WriteFile(m.IdentityFile+".pub", authorized, 0o644); err != nil {
		return err
	}
	sshDir := filepath.Join(m.Root, "root/.ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(sshDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sshDir, "authorized_keys"), authorized, 0o600); err != nil {
		return err
	}

	// Only loopback: the container shares this machine's network.
	dropIn := fmt.Sprintf("# written by myapp testenv\nPort %d\nListenAddress 127.0.0.1\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n", m.Port)
	if err := os.WriteFile(filepath.Join(m.Root, "etc/ssh/sshd_config.d/10-testenv.conf"), []byte(dropIn), 0o644); err != nil {
		return err
	}
	if err := ensureHostKeys(context.Background(), m.Root); err != nil {
		return err
	}
	var all strings.Builder
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		hostPub, err := os.ReadFile(filepath.Join(m.Root, "etc/ssh/ssh_host_"+typ+"_key.pub"))
		if errors.Is(err, os.ErrNotExist) && typ != "ed25519" {
			continue
		}
		if err != nil {
			return err
		}
		f := strings.Fields(string(hostPub))
		if len(f) < 2 {
			return fmt.Errorf("bad host key %q", hostPub)
		}
		line := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", m.Port, f[0], f[1])
		if typ == "ed25519" {
			m.HostKey = f[0] + " " + f[1]
			if err := os.WriteFile(m.KnownHostsEd25519File, []byte(line), 0o644); err != nil {
				return err
			}
		}
		all.WriteString(line)
	}
	if err := os.WriteFile(m.KnownHostsFile, []byte(all.String()), 0o644); err != nil {
		return err
	}

	if err := os.WriteFile(filepath.Join(m.Root, "etc/hostname"), []byte(m.Name+"\n"), 0o644); err != nil {
		return err
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + m.Name + "\n"
	if len(opts.Hosts) > 0 {
		hosts += "127.0.0.1\t" + strings.Join(opts.Hosts, " ") + "\n"
	}
	return os.WriteFile(filepath.Join(m.Root, "etc/hosts"), []byte(hosts), 0o644)
}

func (m *Machine) start() error {
	logf, err := os.Create(m.ConsoleLog)
	if err != nil {
		return err
	}
	// --register=no --keep-unit: there is no systemd/dbus on this machine.
	m.cmd = exec.Command("systemd-nspawn", "-D", m.Root, "-b",
		"--register=no", "--keep-unit", "--machine="+m.Name,
		"--console=read-only", "--link-journal=no", "--setenv=SYSTEMD_COLORS=0")
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	m.cmd.Stdin = nil
	// Own process group, and an orderly container shutdown (nspawn's SIGTERM
	// handling) if the test binary dies without calling Stop.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	// Recorded so a later BootHost can remove this directory if this process
	// dies without Stop.
	_ = os.WriteFile(filepath.Join(m.dir, "nspawn.pid"), []byte(strconv.Itoa(m.cmd.Process.Pid)), 0o644)
	go func() {
		m.waitErr = m.cmd.Wait()
		logf.Close()
		close(m.done)
	}()
	return nil
}

// waitReady waits for sshd to accept connections and for systemd to finish
// booting.
func (m *Machine) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		select {
		case <-m.done:
			return fmt.Errorf("systemd-nspawn exited during boot (%v); console:\n%s", m.waitErr, tail(m.ConsoleLog, 3000))
		case <-ctx.Done():
			return fmt.Errorf("boot %s: not ready after %s (last: %s); console:\n%s", m.Name, timeout, last, tail(m.ConsoleLog, 3000))
		default:
		}
		if err := waitTCP(ctx, m.Addr, time.Second); err != nil {
			last = "sshd not answering on " + m.Addr
			continue
		}
		rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
		out, err := m.Run(rctx, "systemctl", "is-system-running")
		rcancel()
		state := strings.TrimSpace(out)
		switch state {
		case "running", "degraded":
			return nil
		}
		last = fmt.Sprintf("is-system-running: %q %v", state, err)
		time.Sleep(500 * time.Millisecond)
	}
}
