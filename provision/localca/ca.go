package localca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/myapp/myapp/internal/capped"
	"github.com/myapp/myapp/provision/host"
)

// ca is a root certificate with its key, as read from the host.
type ca struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// rootYears is the root's validity: long, because replacing it means
// trusting a new root on every client.
const rootYears = 10

// loadOrCreate returns the CA on h, creating it when root.pem is missing.
//
// Creation has to be safe against a concurrent creator that shares no lock
// with us (another goroutine, the renewal timer, an operator's laptop over
// SSH), must never replace an existing root or key (clients trust the old
// one), and must survive being interrupted. The key is published first and
// the root second, each with an exclusive create (see publish), so the
// states on disk are: nothing; a key without a root (a creation in progress
// or interrupted); both. A key without a root is never trusted by anyone,
// so any caller may finish the job: it signs a root for that key and
// publishes it, and every caller then uses whichever root won.
func (is *Issuer) loadOrCreate(ctx context.Context, h host.Host) (*ca, error) {
	certPEM, err := h.ReadFile(ctx, is.rootPath())
	if err == nil {
		return is.load(ctx, h, certPEM)
	}
	if !host.IsNotExist(err) {
		return nil, fmt.Errorf("read local CA root: %w", err)
	}
	key, err := is.ensureKey(ctx, h)
	if err != nil {
		return nil, err
	}
	certPEM, err = is.newRoot(ctx, h, key)
	if err != nil {
		return nil, fmt.Errorf("create local CA root: %w", err)
	}
	if _, err := publish(ctx, h, is.rootPath(), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("create local CA root: %w", err)
	}
	// Ours or a concurrent caller's: the root on disk is the one clients see.
	if certPEM, err = h.ReadFile(ctx, is.rootPath()); err != nil {
		return nil, fmt.Errorf("read local CA root: %w", err)
	}
	return is.load(ctx, h, certPEM)
}

// load checks that the root on the host is a CA and that its key is there
// and matches. It never repairs anything: a new root would silently break
// every client that trusts the old one.
func (is *Issuer) load(ctx context.Context, h host.Host, certPEM []byte) (*ca, error) {
	rootPath, keyPath := is.rootPath(), is.keyPath()
	hint := fmt.Sprintf("hint: restore %s from a backup; to start over with a new CA instead, remove %s and %s and trust the new root on every client", keyPath, rootPath, keyPath)
	cert, err := parseRoot(certPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA root %s: %w", rootPath, err)
	}
	keyPEM, err := h.ReadFile(ctx, keyPath)
	if host.IsNotExist(err) {
		return nil, fmt.Errorf("local CA root %s exists but its key %s is missing\n%s", rootPath, keyPath, hint)
	} else if err != nil {
		return nil, fmt.Errorf("read local CA key: %w", err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA key %s: %w\n%s", keyPath, err, hint)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("local CA key %s does not match the root %s\n%s", keyPath, rootPath, hint)
	}
	return &ca{cert: cert, certPEM: certPEM, key: key}, nil
}

// ensureKey returns the CA key on h, generating and publishing it (ECDSA
// P-256, 0600 root:root) when there is none.
func (is *Issuer) ensureKey(ctx context.Context, h host.Host) (crypto.Signer, error) {
	keyPath := is.keyPath()
	keyPEM, err := h.ReadFile(ctx, keyPath)
	if host.IsNotExist(err) {
		k, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, merr := x509.MarshalPKCS8PrivateKey(k)
		if merr != nil {
			return nil, merr
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if _, err := publish(ctx, h, keyPath, data, 0o600); err != nil {
			return nil, fmt.Errorf("create local CA key: %w", err)
		}
		// Ours, or the one a concurrent caller published first.
		keyPEM, err = h.ReadFile(ctx, keyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read local CA key: %w", err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA key %s: %w", keyPath, err)
	}
	return key, nil
}

// newRoot signs a root certificate for key.
//
// It carries no name constraints, although restricting the root to the
// names it should issue would limit what a stolen key can do. The root is
// shared by every app on the host and lives for years, while the names it
// must cover are the apps' domains, which change (a staging box may well
// serve staging.example.com); constraints frozen at creation would make a
// later domain fail on the clients, fixable only by trusting a new root.
// MaxPathLen 0 at least forbids intermediates under it.
func (is *Issuer) newRoot(ctx context.Context, h host.Host, key crypto.Signer) ([]byte, error) {
	now := is.opts.Now()
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"myapp local CA"}, CommonName: commonName(ctx, h)},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(rootYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

var hostnameRe = capped.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`, 63)

// commonName names the root after the host, so that an operator who
// trusts the roots of several boxes can tell them apart, plus a random id:
// fresh VMs often share a hostname ("ubuntu"), and two roots with the same
// subject confuse trust stores and chain building.
func commonName(ctx context.Context, h host.Host) string {
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	name := "myapp local CA "
	if b, err := h.ReadFile(ctx, "/etc/hostname"); err == nil {
		if hn, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n"); hostnameRe.MatchString(hn) {
			name += hn + " "
		}
	}
	return name + hex.EncodeToString(id)
}

// publish creates path with data unless it already exists, and reports
// whether this call created it. The data is first written atomically to a
// unique temporary name, then hard-linked to path: link(2) refuses a name
// that is taken, so of several concurrent creators exactly one wins, the
// others lose cleanly, an existing file is never replaced, and path never
// appears half-written. Host.WriteFile alone cannot do this: it renames
// over whatever is there.
func publish(ctx context.Context, h host.Host, p string, data []byte, mode fs.FileMode) (bool, error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return false, err
	}
	tmp := path.Join(path.Dir(p), "."+path.Base(p)+"."+hex.EncodeToString(id)+".tmp")
	if err := h.WriteFile(ctx, host.FileSpec{Path: tmp, Data: data, Mode: mode}); err != nil {
		return false, err
	}
	// The link keeps the data: the temporary name only has to go. Should
	// that fail, a stray copy stays beside the original, with its mode.
	defer func() { _ = h.Remove(context.WithoutCancel(ctx), tmp) }()
	_, lerr := h.Run(ctx, host.Cmd{Argv: []string{"ln", "--", tmp, p}})
	if lerr == nil {
		return true, nil
	}
	if _, err := h.Stat(ctx, p); err == nil {
		return false, nil // a concurrent creator was first
	}
	return false, lerr
}

// parseRoot accepts a PEM file whose first certificate is a CA that may
// sign certificates.
func parseRoot(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no certificate in PEM data")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		if !cert.IsCA || (cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0) {
			return nil, errors.New("not a CA certificate")
		}
		return cert, nil
	}
}

// parsePrivateKey reads the first private key of a PEM file: PKCS#8, SEC 1
// (EC) or PKCS#1 (RSA), so that a CA made with openssl or mkcert can be
// dropped in. Its errors never quote the key.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no private key in PEM data")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", strings.ToLower(b.Type), err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
