package provision

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/myapp/myapp/provision/host"
)

// UsableCert returns the installed certificate when its files are a
// usable pair: the chain parses and the private key matches it. Otherwise
// it returns nil and why, so that renewal replaces a damaged certificate
// instead of failing on it forever, and the site is not switched to TLS
// with files nginx would refuse.
func UsableCert(ctx context.Context, h host.Host, p Paths) (*x509.Certificate, string, error) {
	leaf, _, problem, err := usableCert(ctx, h, p)
	return leaf, problem, err
}

// usableCert is UsableCert, also returning the chain file's bytes.
func usableCert(ctx context.Context, h host.Host, p Paths) (leaf *x509.Certificate, chain []byte, problem string, err error) {
	chain, err = h.ReadFile(ctx, p.Fullchain)
	if host.IsNotExist(err) {
		return nil, nil, "no certificate", nil
	} else if err != nil {
		return nil, nil, "", fmt.Errorf("read %s: %w", p.Fullchain, err)
	}
	leaf, err = ParseLeaf(chain)
	if err != nil {
		return nil, chain, fmt.Sprintf("installed certificate unreadable (%v)", err), nil
	}
	keyPEM, err := h.ReadFile(ctx, p.Privkey)
	if host.IsNotExist(err) {
		return nil, chain, "installed certificate has no private key", nil
	} else if err != nil {
		return nil, chain, "", fmt.Errorf("read %s: %w", p.Privkey, err)
	}
	if !keyMatches(keyPEM, leaf) {
		return nil, chain, "installed private key does not match the certificate", nil
	}
	return leaf, chain, "", nil
}

// keyMatches reports whether the private key in keyPEM belongs to leaf:
// the public key is derived from the private one. Comparing the public key
// a key file carries would be cheaper, and is all OpenSSL checks, but a
// file whose private half is damaged would pass it while every TLS
// handshake fails; the derivation costs tens of microseconds, and cert
// renew --all remembers its answer while the files are unchanged.
func keyMatches(keyPEM []byte, leaf *x509.Certificate) bool {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return false
	}
	var key any
	var err error
	switch b.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return false
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(leaf.PublicKey)
}
