package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
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
