package provision

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// Issuer obtains certificates: *acme.Issuer (any ACME CA) or
// *localca.Issuer (a CA on the host itself).
type Issuer interface {
	Describe(domains []string) string
	Obtain(ctx context.Context, req acme.Request) (*acme.Certificate, error)
}

// http01Issuer is an Issuer whose validation needs the domains to reach
// the webroot over HTTP; a preflight check runs before each order.
type http01Issuer interface{ UsesHTTP01() bool }

// ariIssuer is an Issuer whose CA publishes renewal windows (RFC 9773).
type ariIssuer interface {
	RenewalInfo(ctx context.Context, h host.Host, leaf *x509.Certificate) (*acme.RenewalInfo, error)
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

// certificate obtains a certificate when none is installed or it is due,
// through the same life cycle as `cert renew`. It is a shared step: with
// several hosts serving the app, one order is placed, its HTTP-01 answers
// are written to every host, and the certificate is installed on all.
type certificate struct{}

func (certificate) Name() string { return "certificate" }

// PlanShared plans for all targets at once; the first one decides.
func (certificate) PlanShared(ctx context.Context, ts []*Target) (*Change, error) {
	c, err := certificate{}.Plan(ctx, ts[0])
	for _, t := range ts[1:] {
		t.certReady = ts[0].certReady
	}
	if err != nil || c == nil || c.Apply == nil {
		return c, err
	}
	c.Apply = func(ctx context.Context) error {
		res := Renew(ctx, ts, RenewOptions{Force: true, IgnoreBackoff: true})
		if res.Status == StatusFailed {
			return res.Err
		}
		c.Detail = "serial " + res.Serial
		return nil
	}
	if len(ts) > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("one order for %d hosts; HTTP-01 answers and the certificate go to each", len(ts)))
	}
	return c, nil
}

func (certificate) Plan(ctx context.Context, t *Target) (*Change, error) {
	leaf, problem, err := UsableCert(ctx, t.Host, t.Paths)
	if err != nil {
		return nil, err
	}
	st := LoadCertState(ctx, t.Host, t.Paths)
	d := Decide(newCertInfo(leaf), t.Cfg.Domains, st, time.Now())
	if leaf == nil {
		d.Reason = problem
	}
	if !d.Due {
		t.certReady = true
		return nil, nil
	}
	if t.Issuer == nil {
		return nil, fmt.Errorf("%s, and no issuer is configured", d.Reason)
	}
	t.certReady = true // from here on (or, in a dry run, hypothetically)
	c := &Change{
		Notes: []string{t.Issuer.Describe(t.Cfg.Domains) + " (" + d.Reason + ")",
			fmt.Sprintf("install %s and %s (0600)", t.Paths.Fullchain, t.Paths.Privkey)},
		Detail: "obtained for " + strings.Join(t.Cfg.Domains, ", "),
	}
	c.Apply = func(ctx context.Context) error {
		res := Renew(ctx, []*Target{t}, RenewOptions{Force: true, IgnoreBackoff: true})
		if res.Status == StatusFailed {
			return res.Err
		}
		c.Detail = "serial " + res.Serial
		return nil
	}
	return c, nil
}
