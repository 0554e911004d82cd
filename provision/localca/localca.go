// Package localca is the certificate authority behind acme.directory =
// "local": an embedded CA for names no public CA will certify (.localhost,
// .internal, .test, private hosts, staging boxes).
//
// The CA lives on the target host, in /etc/myapp/local-ca: root.pem is the
// public root that clients trust, root-key.pem its key (0600, root only).
// Every file access goes through host.Host, so the same code works on the
// host itself (cert renew) and from a laptop or CI over SSH (init).
//
// The root is created once and then reused for as long as it is valid:
// clients trust it once and keep trusting every later leaf. Leaves are
// signed by the root directly; a one-host CA gains nothing from an
// intermediate but a second key to protect.
package localca

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// DefaultDir is where the CA lives on a host.
const DefaultDir = "/etc/myapp/local-ca"

const (
	// DefaultLifetime is a leaf's validity. Short enough that renewal (at a
	// third left, by myapp's life cycle) runs often and stays proven, long
	// enough that a host that is off for a week comes back with a valid
	// certificate.
	DefaultLifetime = 30 * 24 * time.Hour
	// MaxLifetime is the longest validity Apple platforms accept for a TLS
	// server certificate from a root a user added; longer ones are rejected
	// there whatever the root says.
	MaxLifetime = 825 * 24 * time.Hour
)

// The CA's files, in Options.Dir.
const (
	RootFile = "root.pem"     // public root certificate, 0644
	KeyFile  = "root-key.pem" // its private key, 0600 root:root
)

// Options configure an Issuer.
type Options struct {
	Dir      string        // on the host; DefaultDir when empty
	KeyType  string        // leaf key: ec256 (default) | ec384 | rsa2048 | rsa4096
	Lifetime time.Duration // leaf validity; DefaultLifetime when zero
	Now      func() time.Time
}

// Issuer issues certificates from the CA on a host. It keeps no state of its
// own (the CA is read from the host on every call), so it is safe for
// concurrent use, also against other processes using the same CA.
type Issuer struct{ opts Options }

// New returns an Issuer; it touches no host until Obtain or Root.
func New(opts Options) *Issuer {
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Issuer{opts: opts}
}

// Describe says what Obtain would do, for --dry-run.
func (is *Issuer) Describe(domains []string) string {
	return fmt.Sprintf("issue a certificate for %s from the local CA in %s (created on first use; clients must trust %s)",
		strings.Join(domains, ", "), is.opts.Dir, is.rootPath())
}

// Obtain issues one certificate for all of req.Domains (wildcards and IP
// addresses allowed) from the CA on req.Hosts[0], creating the CA there if
// it does not exist yet. Fullchain holds the leaf only: clients have the
// root. It installs nothing.
func (is *Issuer) Obtain(ctx context.Context, req acme.Request) (*acme.Certificate, error) {
	if len(req.Hosts) == 0 {
		return nil, errors.New("obtain: no host")
	}
	what := strings.Join(req.Domains, ", ")
	// Check everything the caller controls before the CA is created, so a
	// typo in the config does not leave a root behind.
	names, err := parseNames(req.Domains)
	if err != nil {
		return nil, fmt.Errorf("issue local certificate for %s: %w", what, err)
	}
	if _, err := keyGenerator(is.opts.KeyType); err != nil {
		return nil, err
	}
	if is.opts.Lifetime < 0 || is.opts.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("local CA certificate lifetime %s: want at most %d days", is.opts.Lifetime, MaxLifetime/(24*time.Hour))
	}
	ca, err := is.loadOrCreate(ctx, req.Hosts[0])
	if err != nil {
		return nil, err
	}
	c, err := is.issue(ca, names)
	if err != nil {
		return nil, fmt.Errorf("issue local certificate for %s: %w", what, err)
	}
	return c, nil
}

// Root returns the PEM of the CA's root certificate on h, creating the CA if
// it does not exist yet: what clients must trust.
func (is *Issuer) Root(ctx context.Context, h host.Host) ([]byte, error) {
	ca, err := is.loadOrCreate(ctx, h)
	if err != nil {
		return nil, err
	}
	return ca.certPEM, nil
}

func (is *Issuer) rootPath() string { return path.Join(is.opts.Dir, RootFile) }
func (is *Issuer) keyPath() string  { return path.Join(is.opts.Dir, KeyFile) }
