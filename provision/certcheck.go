package provision

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

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

// keyMatches reports whether the private key in keyPEM belongs to leaf.
// Like OpenSSL's check (X509_check_private_key, what nginx relies on), it
// first compares the public key the key file carries with the
// certificate's: no key arithmetic, which is most of the cost of a no-op
// renewal's check otherwise. A key file that carries none, or carries it
// in another encoding, is parsed and its public key derived.
func keyMatches(keyPEM []byte, leaf *x509.Certificate) bool {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return false
	}
	if storedKeyMatches(b.Type, b.Bytes, leaf) {
		return true
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

// OIDs of the key algorithms a PKCS #8 key names.
var (
	oidECPublicKey   = encasn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidRSAEncryption = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
)

// storedKeyMatches reports whether the public key stored in a private key
// (SEC 1 EC key, PKCS #1 RSA key, or either inside PKCS #8) is exactly
// leaf's. false means "not shown": the caller then derives it.
func storedKeyMatches(pemType string, der []byte, leaf *x509.Certificate) bool {
	in := cryptobyte.String(der)
	switch pemType {
	case "EC PRIVATE KEY":
		return ecStoredKeyMatches(in, leaf)
	case "RSA PRIVATE KEY":
		return rsaStoredKeyMatches(in, leaf)
	case "PRIVATE KEY":
		var seq, algo, priv cryptobyte.String
		var version int
		var oid encasn1.ObjectIdentifier
		if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&version) ||
			!seq.ReadASN1(&algo, asn1.SEQUENCE) || !algo.ReadASN1ObjectIdentifier(&oid) ||
			!seq.ReadASN1(&priv, asn1.OCTET_STRING) {
			return false
		}
		switch {
		case oid.Equal(oidECPublicKey):
			return ecStoredKeyMatches(priv, leaf)
		case oid.Equal(oidRSAEncryption):
			return rsaStoredKeyMatches(priv, leaf)
		}
	}
	return false
}

// ecStoredKeyMatches: the publicKey field of a SEC 1 ECPrivateKey is the
// same point encoding as the certificate's subjectPublicKey when they match.
func ecStoredKeyMatches(in cryptobyte.String, leaf *x509.Certificate) bool {
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		return false
	}
	var seq, wrapped cryptobyte.String
	var version int
	var present bool
	var stored encasn1.BitString
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&version) || version != 1 ||
		!seq.SkipASN1(asn1.OCTET_STRING) ||
		!seq.SkipOptionalASN1(asn1.Tag(0).Constructed().ContextSpecific()) ||
		!seq.ReadOptionalASN1(&wrapped, &present, asn1.Tag(1).Constructed().ContextSpecific()) || !present ||
		!wrapped.ReadASN1BitString(&stored) || stored.BitLength%8 != 0 {
		return false
	}
	var spki, algo cryptobyte.String
	var cert encasn1.BitString
	raw := cryptobyte.String(leaf.RawSubjectPublicKeyInfo)
	if !raw.ReadASN1(&spki, asn1.SEQUENCE) || !spki.ReadASN1(&algo, asn1.SEQUENCE) || !spki.ReadASN1BitString(&cert) {
		return false
	}
	return len(stored.Bytes) > 0 && bytes.Equal(stored.Bytes, cert.Bytes)
}

// rsaStoredKeyMatches: a PKCS #1 RSAPrivateKey starts with the modulus and
// public exponent.
func rsaStoredKeyMatches(in cryptobyte.String, leaf *x509.Certificate) bool {
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return false
	}
	var seq cryptobyte.String
	var version int
	n := new(big.Int)
	var e int
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Integer(&version) ||
		!seq.ReadASN1Integer(n) || !seq.ReadASN1Integer(&e) {
		return false
	}
	return n.Sign() > 0 && n.Cmp(pub.N) == 0 && e == pub.E
}
