package provision

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// Issuer obtains certificates; *acme.Issuer is the real one.
type Issuer interface {
	Describe(domains []string) string
	Obtain(ctx context.Context, h host.Host, domains []string) (*acme.Certificate, error)
}

// InstalledCert returns the leaf of the certificate installed on h, or nil
// when there is none.
func InstalledCert(ctx context.Context, h host.Host, p Paths) (*x509.Certificate, error) {
	data, err := h.ReadFile(ctx, p.Fullchain)
	if host.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.Fullchain, err)
	}
	leaf, err := ParseLeaf(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Fullchain, err)
	}
	return leaf, nil
}

// ParseLeaf returns the first certificate of a PEM chain.
func ParseLeaf(chain []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, chain = pem.Decode(chain)
		if b == nil {
			return nil, errors.New("no certificate in PEM data")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// RenewalDue says whether leaf must be replaced now: it does not cover
// domains, or less than a third of its lifetime is left (half for
// certificates of ten days or less, which short-lived profiles issue).
func RenewalDue(leaf *x509.Certificate, domains []string, now time.Time) (bool, string) {
	if leaf == nil {
		return true, "no certificate"
	}
	for _, d := range domains {
		if !slices.Contains(leaf.DNSNames, d) {
			return true, "certificate does not cover " + d
		}
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	left := leaf.NotAfter.Sub(now)
	frac := 3
	if life <= 10*24*time.Hour {
		frac = 2
	}
	if left <= life/time.Duration(frac) {
		return true, fmt.Sprintf("expires %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return false, fmt.Sprintf("valid until %s, renewal from %s", leaf.NotAfter.UTC().Format(time.RFC3339),
		leaf.NotAfter.Add(-life/time.Duration(frac)).UTC().Format(time.RFC3339))
}

// InstallCert writes the key (0600) and chain, checks nginx and reloads it
// when it is running.
func InstallCert(ctx context.Context, h host.Host, p Paths, c *acme.Certificate) error {
	if err := h.MkdirAll(ctx, p.CertDir, 0o700, "root:root"); err != nil {
		return fmt.Errorf("create %s: %w", p.CertDir, err)
	}
	if err := h.WriteFile(ctx, host.FileSpec{Path: p.Privkey, Data: c.Key, Mode: 0o600, Owner: "root:root"}); err != nil {
		return fmt.Errorf("install key: %w", err)
	}
	if err := h.WriteFile(ctx, host.FileSpec{Path: p.Fullchain, Data: c.Fullchain, Mode: 0o644, Owner: "root:root"}); err != nil {
		return fmt.Errorf("install certificate: %w", err)
	}
	return reloadNginx(ctx, h)
}

// reloadNginx validates the whole nginx configuration, then reloads (or
// starts) nginx.
func reloadNginx(ctx context.Context, h host.Host) error {
	if _, err := h.Run(ctx, host.Cmd{Argv: []string{"nginx", "-t", "-q"}}); err != nil {
		return fmt.Errorf("nginx -t: %w", err)
	}
	if _, err := h.Run(ctx, host.Cmd{Argv: []string{"systemctl", "reload-or-restart", "nginx"}}); err != nil {
		return fmt.Errorf("reload nginx: %w", err)
	}
	return nil
}

// certificate obtains a certificate when none is installed or it is due.
type certificate struct{}

func (certificate) Name() string { return "certificate" }

func (certificate) Plan(ctx context.Context, t *Target) (*Change, error) {
	leaf, err := InstalledCert(ctx, t.Host, t.Paths)
	if err != nil {
		return nil, err
	}
	due, why := RenewalDue(leaf, t.Cfg.Domains, time.Now())
	if !due {
		t.certReady = true
		return nil, nil
	}
	if t.Issuer == nil {
		return nil, fmt.Errorf("%s and acme.directory %q cannot issue one yet", why, t.Cfg.ACME.Directory)
	}
	t.certReady = true // from here on (or, in a dry run, hypothetically)
	return &Change{
		Notes: []string{t.Issuer.Describe(t.Cfg.Domains) + " (" + why + ")",
			fmt.Sprintf("install %s and %s (0600)", t.Paths.Fullchain, t.Paths.Privkey)},
		Apply: func(ctx context.Context) error {
			c, err := t.Issuer.Obtain(ctx, t.Host, t.Cfg.Domains)
			if err != nil {
				return err
			}
			return InstallCert(ctx, t.Host, t.Paths, c)
		},
		Detail: "obtained for " + strings.Join(t.Cfg.Domains, ", "),
	}, nil
}
