package host

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHConfig says how to reach a host over SSH. It mirrors a [[hosts]] entry
// of myapp.toml.
type SSHConfig struct {
	Name    string // label for messages, e.g. "web1"; default Address
	Address string // "host" or "host:port"; the port defaults to 22
	User    string // login user; default root. Other users need passwordless sudo.
	// IdentityFile is a private key file ("~/" is expanded). Empty means
	// the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist, as ssh does.
	IdentityFile string
	// KnownHostsFile lists trusted host keys; default ~/.ssh/known_hosts.
	// Plain, "[host]:port" and hashed entries are understood.
	KnownHostsFile string
	// HostKey pins the host's key as an authorized_keys line
	// ("ssh-ed25519 AAAA..."); when set, known_hosts is not consulted.
	HostKey        string
	ConnectTimeout time.Duration // default 15s; bounds dialing and the handshake
	KeepAlive      time.Duration // interval of keepalive probes; default 15s, negative turns them off
}

func (c *SSHConfig) setDefaults() error {
	if c.Address == "" {
		if c.Name == "" {
			c.Name = "ssh"
		}
		return errors.New("no address")
	}
	if strings.Contains(c.Address, "@") {
		return fmt.Errorf("address %q contains a user: set the user separately", c.Address)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		c.Address = net.JoinHostPort(strings.Trim(c.Address, "[]"), "22")
	}
	if c.Name == "" {
		c.Name = c.Address
	}
	if c.User == "" {
		c.User = "root"
	}
	if c.KnownHostsFile == "" {
		c.KnownHostsFile = "~/.ssh/known_hosts"
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 15 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 15 * time.Second
	}
	var err error
	if c.KnownHostsFile, err = expandHome(c.KnownHostsFile); err != nil {
		return err
	}
	c.IdentityFile, err = expandHome(c.IdentityFile)
	return err
}

// expandHome replaces a leading "~/" with the user's home directory.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// EnvSSHKey names the environment variable that may hold a PEM private key,
// for CI systems that hand secrets over as variables rather than files.
const EnvSSHKey = "MYAPP_SSH_KEY"

// loadSigners gathers every key that is available, in this order:
// MYAPP_SSH_KEY, the identity file, then the keys of ssh-agent. They go into
// a single publickey method because x/crypto/ssh tries each method name only
// once; within it the server is offered one key after another.
//
// A passphrase-protected key cannot be used without a prompt, which a
// deploy from CI cannot answer. If it was asked for explicitly and no agent
// offers keys, that is an error saying so, rather than a later, vaguer
// "unable to authenticate".
func loadSigners(cfg SSHConfig) (signers []ssh.Signer, closeAgent func(), err error) {
	var locked []string // keys that need a passphrase and were asked for
	if pem := os.Getenv(EnvSSHKey); pem != "" {
		// CI settings that cannot hold newlines (masked variables) get the
		// key with literal "\n" escapes instead.
		if !strings.Contains(pem, "\n") {
			pem = strings.ReplaceAll(pem, `\n`, "\n")
		}
		s, err := ssh.ParsePrivateKey([]byte(pem))
		switch {
		case isPassphraseMissing(err):
			locked = append(locked, EnvSSHKey)
		case err != nil:
			// Never quote the variable: it is a secret.
			return nil, nil, fmt.Errorf("parse private key in %s: %w\nhint: it must hold the whole key file "+
				"as ssh-keygen wrote it, BEGIN and END lines included", EnvSSHKey, err)
		default:
			signers = append(signers, s)
		}
	}

	files, explicit := []string{cfg.IdentityFile}, true
	if cfg.IdentityFile == "" {
		files, explicit = defaultIdentityFiles(), false
	}
	for _, f := range files {
		s, err := loadKeyFile(f)
		switch {
		case err == nil:
			signers = append(signers, s)
		case isPassphraseMissing(err):
			if explicit {
				locked = append(locked, "identity file "+f)
			}
		case explicit && errors.Is(err, fs.ErrNotExist):
			return nil, nil, fmt.Errorf("%w\nhint: identity_file names a key that is not there: fix the path, "+
				"or remove identity_file to use %s, ssh-agent or ~/.ssh/id_*", err, EnvSSHKey)
		case explicit || !errors.Is(err, fs.ErrNotExist):
			return nil, nil, err
		}
	}

	agentSigners, closeAgent, agentErr := agentSigners()
	signers = append(signers, agentSigners...)
	if len(locked) > 0 && len(agentSigners) == 0 {
		closeAgent()
		return nil, nil, fmt.Errorf("%s: key is passphrase-protected and no ssh-agent offers keys%s\n"+
			"hint: run ssh-agent and ssh-add the key (SSH_AUTH_SOCK must be set), "+
			"or use a deploy key without a passphrase", locked[0], agentNote(agentErr))
	}
	if len(signers) == 0 {
		closeAgent()
		return nil, nil, fmt.Errorf("no ssh key found%s\nhint: set identity_file, put a key in %s, "+
			"or run ssh-agent", agentNote(agentErr), EnvSSHKey)
	}
	return signers, closeAgent, nil
}

func loadKeyFile(name string) (ssh.Signer, error) {
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("parse identity file %s: %w", name, err)
	}
	return s, nil
}

func defaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var files []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		files = append(files, filepath.Join(home, ".ssh", n))
	}
	return files
}

func isPassphraseMissing(err error) bool {
	var pm *ssh.PassphraseMissingError
	return errors.As(err, &pm)
}

// agentSigners returns the keys of the agent at SSH_AUTH_SOCK, if any. The
// connection must stay open until authentication is over, because the agent
// signs the server's challenge; closeAgent ends it.
func agentSigners() (signers []ssh.Signer, closeAgent func(), err error) {
	noop := func() {}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, noop, nil
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, noop, fmt.Errorf("connect to ssh-agent: %w", err)
	}
	signers, err = agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, noop, fmt.Errorf("list ssh-agent keys: %w", err)
	}
	return signers, func() { conn.Close() }, nil
}

func agentNote(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
