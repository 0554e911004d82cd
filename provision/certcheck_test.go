package provision

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// certFor is a self-signed certificate for key.
func certFor(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a.example.com"},
		DNSNames: []string{"a.example.com"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// ecNoPublic is SEC 1 without the optional public key, which OpenSSL can
// write (-param_enc, no_public) and which must be derived.
func ecNoPublic(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	}{1, d, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}})
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

// damagedPrivate is k's SEC 1 encoding with its public key kept and the
// private scalar of other: OpenSSL loads it and compares only the public
// key, then every handshake fails.
func damagedPrivate(t *testing.T, k, other *ecdsa.PrivateKey) []byte {
	t.Helper()
	d, err := other.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}{1, d, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

// TestKeyMatches: every encoding a key file may use is matched with its
// certificate and told apart from another key's, including a key whose
// stored public key is right but whose private half is not.
func TestKeyMatches(t *testing.T) {
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed1, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", der)
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("EC PRIVATE KEY", der)
	}
	leafEC, leafEC384, leafRSA, leafEd := certFor(t, ec1), certFor(t, ec384), certFor(t, rsa1), certFor(t, ed1)
	for _, tc := range []struct {
		name  string
		key   []byte
		leaf  *x509.Certificate
		match bool
	}{
		{"EC SEC1", sec1(ec1), leafEC, true},
		{"EC PKCS8", pkcs8(ec1), leafEC, true},
		{"EC P-384 SEC1", sec1(ec384), leafEC384, true},
		{"EC SEC1 without public key", ecNoPublic(t, ec1), leafEC, true},
		{"RSA PKCS1", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1)), leafRSA, true},
		{"RSA PKCS8", pkcs8(rsa1), leafRSA, true},
		{"Ed25519 PKCS8", pkcs8(ed1), leafEd, true},
		{"right public key, private half of another key", damagedPrivate(t, ec1, ec2), leafEC, false},
		{"other EC SEC1", sec1(ec2), leafEC, false},
		{"other EC PKCS8", pkcs8(ec2), leafEC, false},
		{"other EC without public key", ecNoPublic(t, ec2), leafEC, false},
		{"other RSA PKCS1", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2)), leafRSA, false},
		{"other RSA PKCS8", pkcs8(rsa2), leafRSA, false},
		{"EC key, RSA certificate", sec1(ec1), leafRSA, false},
		{"RSA key, EC certificate", pkcs8(rsa1), leafEC, false},
		{"P-384 key, P-256 certificate", sec1(ec384), leafEC, false},
		{"not PEM", []byte("garbage"), leafEC, false},
		{"truncated", pemOf("PRIVATE KEY", []byte{0x30, 0x82, 0x01}), leafEC, false},
	} {
		if got := keyMatches(tc.key, tc.leaf); got != tc.match {
			t.Errorf("%s: keyMatches = %v, want %v", tc.name, got, tc.match)
		}
	}
}

// TestKeyMatchesOpenSSLKeys: keys as openssl writes them (what an operator
// may install by hand) are matched with their certificates.
func TestKeyMatchesOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	for _, alg := range [][]string{
		{"ec", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"},
		{"rsa", "-newkey", "rsa:2048"},
	} {
		key, crt := filepath.Join(dir, alg[0]+".key"), filepath.Join(dir, alg[0]+".crt")
		args := append([]string{"req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=a.example.com", "-keyout", key, "-out", crt}, alg[1:]...)
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		keyPEM, _ := os.ReadFile(key)
		crtPEM, _ := os.ReadFile(crt)
		leaf, err := ParseLeaf(crtPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !keyMatches(keyPEM, leaf) {
			t.Errorf("%s: openssl's key does not match its certificate", alg[0])
		}
	}
}
