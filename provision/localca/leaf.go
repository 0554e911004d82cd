package localca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/myapp/myapp/internal/capped"
	"github.com/myapp/myapp/provision/acme"
)

// backdate is how far NotBefore lies in the past, for clients whose clock
// runs behind the host's (staging VMs drift).
const backdate = time.Hour

// names are a certificate's subject alternative names.
type names struct {
	dns []string
	ips []net.IP
	all []string // as given, deduplicated: dns and ips in order
}

var labelRe = capped.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`, 63)

// parseNames sorts domains into DNS names (a leading "*." allowed) and IP
// addresses, refusing anything that is neither: the CA signs what it is
// given, so garbage must stop here.
func parseNames(domains []string) (names, error) {
	var n names
	if len(domains) == 0 {
		return n, errors.New("no domain")
	}
	seen := map[string]bool{}
	for _, d := range domains {
		if seen[d] {
			continue
		}
		seen[d] = true
		n.all = append(n.all, d)
		if ip := net.ParseIP(d); ip != nil {
			n.ips = append(n.ips, ip)
			continue
		}
		if len(d) > 253 {
			return n, fmt.Errorf("%q: name too long", d)
		}
		for _, l := range strings.Split(strings.TrimPrefix(d, "*."), ".") {
			if !labelRe.MatchString(l) {
				return n, fmt.Errorf("%q: not a valid DNS name (a leading \"*.\" is the only wildcard allowed)", d)
			}
		}
		n.dns = append(n.dns, d)
	}
	return n, nil
}

// keyGenerator returns the leaf key generator for an acme.key_type.
func keyGenerator(keyType string) (func() (crypto.Signer, error), error) {
	switch keyType {
	case "", "ec256":
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }, nil
	case "ec384":
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) }, nil
	case "rsa2048":
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }, nil
	case "rsa4096":
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 4096) }, nil
	}
	return nil, fmt.Errorf("unknown key type %q: use ec256, ec384, rsa2048 or rsa4096", keyType)
}

// issue signs a server certificate for n with a fresh key.
func (is *Issuer) issue(ca *ca, n names) (*acme.Certificate, error) {
	now := is.opts.Now()
	root := ca.cert
	if !now.Add(time.Hour).Before(root.NotAfter) {
		return nil, fmt.Errorf("the local CA root is no longer usable: it expires at %s\nhint: remove %s and %s to create a new CA, then trust the new root on every client",
			root.NotAfter.UTC().Format(time.RFC3339), is.rootPath(), is.keyPath())
	}
	newKey, err := keyGenerator(is.opts.KeyType)
	if err != nil {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		DNSNames:              n.dns,
		IPAddresses:           n.ips,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(is.opts.Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if len(n.all[0]) <= 64 { // the longest common name X.509 allows
		tmpl.Subject = pkix.Name{CommonName: n.all[0]}
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // TLS 1.2 RSA key exchange, for old clients
	}
	// A leaf outside its issuer's validity does not verify.
	if tmpl.NotBefore.Before(root.NotBefore) {
		tmpl.NotBefore = root.NotBefore
	}
	if tmpl.NotAfter.After(root.NotAfter) {
		tmpl.NotAfter = root.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	if err := verifyLeaf(der, root, n, now); err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &acme.Certificate{
		Fullchain: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// verifyLeaf checks the new certificate the way a client will, for every
// name. A root that was not made here (an operator's own CA with name
// constraints, say) fails now, with a reason, instead of on the clients.
func verifyLeaf(der []byte, root *x509.Certificate, n names, now time.Time) error {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, name := range n.all {
		// Any name under a wildcard will do to check it.
		name = strings.Replace(name, "*", "wildcard-check", 1)
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return fmt.Errorf("the new certificate does not verify against the local CA root: %w", err)
		}
	}
	return nil
}

// randomSerial returns a positive serial number of up to 128 random bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		s, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, err
		}
		if s.Sign() > 0 {
			return s, nil
		}
	}
}
