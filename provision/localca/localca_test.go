package localca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/localca"
)

const dir = "/etc/myapp/local-ca"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

func obtain(t *testing.T, is *localca.Issuer, h host.Host, domains ...string) *acme.Certificate {
	t.Helper()
	c, err := is.Obtain(context.Background(), acme.Request{Domains: domains, Hosts: []host.Host{h}})
	if err != nil {
		t.Fatalf("Obtain(%v): %v", domains, err)
	}
	return c
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("no certificate in %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verify checks leaf against root the way a TLS client does, for name.
func verify(t *testing.T, rootPEM, chain []byte, name string, now time.Time) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root.pem holds no certificate")
	}
	_, err := parseCert(t, chain).Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestRootCreatedOnceAndReused(t *testing.T) {
	h := newFakeHost(t)
	h.files["/etc/hostname"] = host.FileSpec{Path: "/etc/hostname", Data: []byte("web1\n")}
	is := localca.New(localca.Options{Now: clock(t0)})
	obtain(t, is, h, "shop.test")

	root, key := h.file(dir+"/root.pem"), h.file(dir+"/root-key.pem")
	if root.Mode != 0o644 || root.Owner != "root:root" || key.Mode != 0o600 || key.Owner != "root:root" {
		t.Errorf("root %o %s, key %o %s; want 644 and 600, root:root", root.Mode, root.Owner, key.Mode, key.Owner)
	}
	if got, want := h.paths(dir), []string{dir + "/root-key.pem", dir + "/root.pem"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("files in %s: %v, want %v (temporary files left?)", dir, got, want)
	}
	ca := parseCert(t, root.Data)
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root: IsCA %v MaxPathLenZero %v KeyUsage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("root key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if !strings.HasPrefix(ca.Subject.CommonName, "myapp local CA web1 ") {
		t.Errorf("root CN %q, want it to name the host", ca.Subject.CommonName)
	}
	if !ca.NotAfter.Equal(t0.AddDate(10, 0, 0)) || !ca.NotBefore.Before(t0) {
		t.Errorf("root valid %s to %s, want from before %s for 10 years", ca.NotBefore, ca.NotAfter, t0)
	}
	if bytes.Contains(root.Data, []byte("PRIVATE")) {
		t.Error("root.pem holds a private key")
	}

	writes, runs := h.counts()
	later := localca.New(localca.Options{Now: clock(t0.Add(400 * 24 * time.Hour))})
	c := obtain(t, later, h, "shop.test")
	if w, r := h.counts(); w != writes || r != runs {
		t.Errorf("second Obtain wrote %d files and ran %d commands; want the CA reused as is", w-writes, r-runs)
	}
	if !bytes.Equal(h.file(dir+"/root.pem").Data, root.Data) || !bytes.Equal(h.file(dir+"/root-key.pem").Data, key.Data) {
		t.Error("second Obtain changed the CA")
	}
	if err := verify(t, root.Data, c.Fullchain, "shop.test", t0.Add(401*24*time.Hour)); err != nil {
		t.Error(err)
	}
	pemRoot, err := later.Root(context.Background(), h)
	if err != nil || !bytes.Equal(pemRoot, root.Data) {
		t.Errorf("Root: %v, same as root.pem: %v", err, bytes.Equal(pemRoot, root.Data))
	}
}

func TestRootCreatesCA(t *testing.T) {
	h := newFakeHost(t) // no /etc/hostname: the CN is a random id alone
	got, err := localca.New(localca.Options{Dir: "/srv/ca"}).Root(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, h.file("/srv/ca/root.pem").Data) {
		t.Error("Root did not return the root.pem it created")
	}
	if cn := parseCert(t, got).Subject.CommonName; len(cn) != len("myapp local CA 0123abcd") {
		t.Errorf("CN %q, want myapp local CA <8 hex digits>", cn)
	}
}

func TestLeafVerifies(t *testing.T) {
	tests := []struct {
		name    string
		domains []string
		check   []string // names a client may ask for
		reject  []string // names it must not get
	}{
		{"one name", []string{"shop.test"}, []string{"shop.test"}, []string{"www.shop.test", "test"}},
		{"several", []string{"app.localhost", "api.internal", "box.staging.example.com"},
			[]string{"app.localhost", "api.internal", "box.staging.example.com"}, []string{"localhost"}},
		{"wildcard", []string{"shop.test", "*.shop.test"},
			[]string{"shop.test", "www.shop.test", "a-b.shop.test"}, []string{"a.b.shop.test", "shopx.test"}},
		{"ip", []string{"web.internal", "10.0.0.5", "::1"}, []string{"web.internal", "10.0.0.5", "::1"}, []string{"10.0.0.6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			c := obtain(t, localca.New(localca.Options{Now: clock(t0)}), h, tt.domains...)
			root := h.file(dir + "/root.pem").Data
			for _, n := range tt.check {
				if err := verify(t, root, c.Fullchain, n, t0); err != nil {
					t.Errorf("%s: %v", n, err)
				}
			}
			for _, n := range tt.reject {
				if err := verify(t, root, c.Fullchain, n, t0); err == nil {
					t.Errorf("%s verifies; it is not on the certificate", n)
				}
			}
			leaf := parseCert(t, c.Fullchain)
			if rest := bytes.TrimSpace(c.Fullchain[bytes.Index(c.Fullchain, []byte("-----END CERTIFICATE-----"))+25:]); len(rest) != 0 {
				t.Errorf("Fullchain has more than the leaf: %q", rest)
			}
			if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("leaf IsCA %v, ExtKeyUsage %v; want a serverAuth end entity", leaf.IsCA, leaf.ExtKeyUsage)
			}
			if leaf.Subject.CommonName != tt.domains[0] {
				t.Errorf("CN %q, want the first domain", leaf.Subject.CommonName)
			}
			if !bytes.Equal(leaf.AuthorityKeyId, parseCert(t, root).SubjectKeyId) {
				t.Error("leaf not issued directly by the root")
			}
			if s := leaf.SerialNumber; s.Sign() <= 0 || s.BitLen() > 128 {
				t.Errorf("serial %x: want a positive 128-bit number", s)
			}
			if !leaf.NotBefore.Before(t0) || !leaf.NotAfter.Equal(t0.Add(localca.DefaultLifetime)) {
				t.Errorf("leaf valid %s to %s; want from a little before %s for 30 days", leaf.NotBefore, leaf.NotAfter, t0)
			}
		})
	}
}

func TestSerialsDiffer(t *testing.T) {
	h := newFakeHost(t)
	is := localca.New(localca.Options{})
	a, b := parseCert(t, obtain(t, is, h, "a.test").Fullchain), parseCert(t, obtain(t, is, h, "a.test").Fullchain)
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Error("two certificates share a serial")
	}
}

func TestKeyTypes(t *testing.T) {
	tests := []struct {
		keyType string
		algo    x509.PublicKeyAlgorithm
		bits    int
	}{
		{"", x509.ECDSA, 256},
		{"ec256", x509.ECDSA, 256},
		{"ec384", x509.ECDSA, 384},
		{"rsa2048", x509.RSA, 2048},
		{"rsa4096", x509.RSA, 4096},
	}
	for _, tt := range tests {
		t.Run("type="+tt.keyType, func(t *testing.T) {
			h := newFakeHost(t)
			c := obtain(t, localca.New(localca.Options{KeyType: tt.keyType}), h, "k.test")
			leaf := parseCert(t, c.Fullchain)
			bits := 0
			switch k := leaf.PublicKey.(type) {
			case *ecdsa.PublicKey:
				bits = k.Curve.Params().BitSize
			case *rsa.PublicKey:
				bits = k.N.BitLen()
			}
			if leaf.PublicKeyAlgorithm != tt.algo || bits != tt.bits {
				t.Errorf("leaf key %v %d bits, want %v %d", leaf.PublicKeyAlgorithm, bits, tt.algo, tt.bits)
			}
			if b, _ := pem.Decode(c.Key); b == nil || b.Type != "PRIVATE KEY" {
				t.Errorf("key is not a PKCS#8 PEM")
			}
			if _, err := tls.X509KeyPair(c.Fullchain, c.Key); err != nil {
				t.Errorf("key does not match the certificate: %v", err)
			}
			if err := verify(t, h.file(dir+"/root.pem").Data, c.Fullchain, "k.test", time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
}

// Bad input is refused before anything is written: a typo in the config
// must not leave a CA behind.
func TestBadRequestWritesNothing(t *testing.T) {
	tests := []struct {
		name    string
		opts    localca.Options
		domains []string
		want    string
	}{
		{"key type", localca.Options{KeyType: "ed25519"}, []string{"a.test"}, `unknown key type "ed25519"`},
		{"lifetime", localca.Options{Lifetime: 1000 * 24 * time.Hour}, []string{"a.test"}, "at most 825 days"},
		{"no domain", localca.Options{}, nil, "no domain"},
		{"space", localca.Options{}, []string{"a b.test"}, "not a valid DNS name"},
		{"inner wildcard", localca.Options{}, []string{"a.*.test"}, "not a valid DNS name"},
		{"double wildcard", localca.Options{}, []string{"*.*.test"}, "not a valid DNS name"},
		{"dash", localca.Options{}, []string{"-a.test"}, "not a valid DNS name"},
		{"trailing dot", localca.Options{}, []string{"a.test."}, "not a valid DNS name"},
		{"empty", localca.Options{}, []string{""}, "not a valid DNS name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			_, err := localca.New(tt.opts).Obtain(context.Background(), acme.Request{Domains: tt.domains, Hosts: []host.Host{h}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if w, r := h.counts(); w != 0 || r != 0 {
				t.Errorf("%d writes and %d commands for a bad request", w, r)
			}
		})
	}
	if _, err := localca.New(localca.Options{}).Obtain(context.Background(), acme.Request{Domains: []string{"a.test"}}); err == nil {
		t.Error("Obtain without a host succeeded")
	}
}

func TestLifetime(t *testing.T) {
	h := newFakeHost(t)
	is := localca.New(localca.Options{Now: clock(t0), Lifetime: 7 * 24 * time.Hour})
	leaf := parseCert(t, obtain(t, is, h, "a.test").Fullchain)
	if !leaf.NotAfter.Equal(t0.Add(7 * 24 * time.Hour)) {
		t.Errorf("NotAfter %s, want 7 days after %s", leaf.NotAfter, t0)
	}
	rootEnd := parseCert(t, h.file(dir+"/root.pem").Data).NotAfter

	// Near the root's end, leaves end with it rather than outlive it.
	near := rootEnd.Add(-3 * 24 * time.Hour)
	c := obtain(t, localca.New(localca.Options{Now: clock(near)}), h, "a.test")
	if got := parseCert(t, c.Fullchain).NotAfter; !got.Equal(rootEnd) {
		t.Errorf("NotAfter %s, want the root's %s", got, rootEnd)
	}
	if err := verify(t, h.file(dir+"/root.pem").Data, c.Fullchain, "a.test", rootEnd.Add(-time.Minute)); err != nil {
		t.Error(err)
	}

	_, err := localca.New(localca.Options{Now: clock(rootEnd.Add(time.Minute))}).Obtain(context.Background(),
		acme.Request{Domains: []string{"a.test"}, Hosts: []host.Host{h}})
	if err == nil || !strings.Contains(err.Error(), "no longer usable") || !strings.Contains(err.Error(), "hint:") {
		t.Errorf("expired root: err = %v", err)
	}
}
