package provision

import (
	"context"
	"crypto/x509"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// Certificate files on a host:
//
//	certs/<domain>                      -> .archive/<domain>/<version>   (symlink)
//	certs/.archive/<domain>/<version>/  fullchain.pem, privkey.pem (0600)
//
// nginx is configured with certs/<domain>/{fullchain,privkey}.pem. A renewal
// writes a new version directory and then swaps the one symlink, a single
// rename, so nginx can never load a key with another certificate's chain,
// and the previous pair stays on disk for rollback.
const keepVersions = 3

// InstallOptions tune InstallCert.
type InstallOptions struct {
	// VerifyServed checks over TLS that nginx serves the new certificate
	// after the reload, and restores the previous one when it does not.
	VerifyServed bool
	Domain       string // SNI name for the check
	Now          time.Time
}

// InstallCert installs c on h as described above, then checks and reloads
// nginx. On any failure the previous certificate is put back.
func InstallCert(ctx context.Context, h host.Host, p Paths, c *acme.Certificate, o InstallOptions) error {
	leaf, err := ParseLeaf(c.Fullchain)
	if err != nil {
		return fmt.Errorf("new certificate: %w", err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	version := o.Now.UTC().Format("20060102T150405Z") + "-" + shortSerial(leaf)
	dir := path.Join(p.CertArchive, version)
	if err := h.MkdirAll(ctx, dir, 0o700, "root:root"); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := h.WriteFile(ctx, host.FileSpec{Path: dir + "/privkey.pem", Data: c.Key, Mode: 0o600, Owner: "root:root"}); err != nil {
		return fmt.Errorf("install key: %w", err)
	}
	if err := h.WriteFile(ctx, host.FileSpec{Path: dir + "/fullchain.pem", Data: c.Fullchain, Mode: 0o644, Owner: "root:root"}); err != nil {
		return fmt.Errorf("install certificate: %w", err)
	}
	prev, err := currentVersion(ctx, h, p, o.Now)
	if err != nil {
		return err
	}
	rel := func(v string) string { return ".archive/" + path.Base(p.CertArchive) + "/" + v }
	restore := func(cause error) error {
		if prev == "" {
			_ = h.Remove(ctx, p.CertDir)
		} else if err := h.Symlink(ctx, rel(prev), p.CertDir); err != nil {
			return fmt.Errorf("%w; restoring the previous certificate failed too: %v", cause, err)
		}
		_ = reloadNginx(ctx, h)
		return fmt.Errorf("%w (previous certificate restored)", cause)
	}
	if err := h.Symlink(ctx, rel(version), p.CertDir); err != nil {
		return fmt.Errorf("switch certificate: %w", err)
	}
	if err := reloadNginx(ctx, h); err != nil {
		return restore(err)
	}
	if o.VerifyServed {
		if err := waitServed(ctx, h, o.Domain, leaf); err != nil {
			return restore(err)
		}
	}
	pruneVersions(ctx, h, p, version, prev)
	return nil
}

// currentVersion returns the version certs/<domain> points to, moving a
// plain directory (an older layout, or a hand-made one) into the archive.
func currentVersion(ctx context.Context, h host.Host, p Paths, now time.Time) (string, error) {
	fi, err := h.Stat(ctx, p.CertDir)
	switch {
	case host.IsNotExist(err):
		return "", nil
	case err != nil:
		return "", err
	case fi.Mode&fs.ModeSymlink != 0:
		return path.Base(fi.Symlink), nil
	case fi.Mode.IsDir():
		v := now.UTC().Format("20060102T150405Z") + "-adopted"
		if _, err := h.Run(ctx, host.Cmd{Argv: []string{"mv", "-T", p.CertDir, path.Join(p.CertArchive, v)}}); err != nil {
			return "", fmt.Errorf("adopt existing %s: %w", p.CertDir, err)
		}
		return v, nil
	}
	return "", fmt.Errorf("%s is neither a directory nor a symlink", p.CertDir)
}

// pruneVersions keeps the newest versions (and always cur and prev).
func pruneVersions(ctx context.Context, h host.Host, p Paths, cur, prev string) {
	out, err := h.Run(ctx, host.Cmd{Argv: []string{"ls", "-1", p.CertArchive}})
	if err != nil {
		return
	}
	vs := strings.Fields(string(out))
	sort.Sort(sort.Reverse(sort.StringSlice(vs)))
	for i, v := range vs {
		if i < keepVersions || v == cur || v == prev {
			continue
		}
		_, _ = h.Run(ctx, host.Cmd{Argv: []string{"rm", "-rf", "--", path.Join(p.CertArchive, v)}})
	}
}

// waitServed waits until nginx on h serves leaf for domain: a reload
// replaces workers gracefully, so the old certificate may answer briefly.
func waitServed(ctx context.Context, h host.Host, domain string, leaf *x509.Certificate) error {
	deadline := time.Now().Add(15 * time.Second)
	// A reload starts new workers while the old ones may still accept a
	// connection or two before they notice they are to stop: one
	// handshake with the new serial is not yet "served". Several in a
	// row, spaced out, are.
	const inARow = 3
	seen := 0
	for {
		st, err := tlsStateOn(ctx, h, domain)
		if err == nil && st.PeerCertificates[0].SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			if seen++; seen == inARow {
				return nil
			}
		} else {
			seen = 0
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("nginx serves serial %x, not the new %x", st.PeerCertificates[0].SerialNumber, leaf.SerialNumber)
			}
			return fmt.Errorf("verify https://%s/: %w", domain, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func shortSerial(c *x509.Certificate) string {
	s := fmt.Sprintf("%x", c.SerialNumber)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}
