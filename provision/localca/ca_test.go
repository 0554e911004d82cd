package localca_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/localca"
)

// newCA returns the root and key PEM of a fresh CA made by localca.
func newCA(t *testing.T) (rootPEM, keyPEM []byte) {
	h := newFakeHost(t)
	if _, err := localca.New(localca.Options{}).Root(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return h.file(dir + "/root.pem").Data, h.file(dir + "/root-key.pem").Data
}

// A damaged CA is reported, never repaired: clients trust the root that is
// there, and a new one would silently break them.
func TestBrokenCAIsNotReplaced(t *testing.T) {
	root, key := newCA(t)
	_, otherKey := newCA(t)
	leafPEM := obtain(t, localca.New(localca.Options{}), newFakeHost(t), "a.test").Fullchain
	tests := []struct {
		name      string
		root, key []byte // nil: missing
		want      string
	}{
		{"key missing", root, nil, "root-key.pem is missing"},
		{"key of another CA", root, otherKey, "does not match the root"},
		{"key garbage", root, []byte("not a key"), "no private key"},
		{"key encrypted", root, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "encrypted"},
		{"root garbage", []byte("junk"), key, "no certificate"},
		{"root not a CA", leafPEM, key, "not a CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			h.files[dir+"/root.pem"] = host.FileSpec{Path: dir + "/root.pem", Data: tt.root, Mode: 0o644}
			if tt.key != nil {
				h.files[dir+"/root-key.pem"] = host.FileSpec{Path: dir + "/root-key.pem", Data: tt.key, Mode: 0o600}
			}
			_, err := localca.New(localca.Options{}).Obtain(context.Background(),
				acme.Request{Domains: []string{"a.test"}, Hosts: []host.Host{h}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(otherKey[40:80])) {
				t.Errorf("error quotes a key: %v", err)
			}
			if w, r := h.counts(); w != 0 || r != 0 {
				t.Errorf("%d writes and %d commands on a broken CA; want none", w, r)
			}
			if !bytes.Equal(h.file(dir+"/root.pem").Data, tt.root) {
				t.Error("root.pem changed")
			}
		})
	}
}

// A key without a root is what an interrupted creation leaves: nobody can
// trust a root that was never written, so the next run finishes the job
// with that key.
func TestKeyWithoutRootIsCompleted(t *testing.T) {
	_, key := newCA(t)
	h := newFakeHost(t)
	h.files[dir+"/root-key.pem"] = host.FileSpec{Path: dir + "/root-key.pem", Data: key, Mode: 0o600, Owner: "root:root"}
	c := obtain(t, localca.New(localca.Options{}), h, "a.test")
	if !bytes.Equal(h.file(dir+"/root-key.pem").Data, key) {
		t.Error("the key was replaced")
	}
	if err := verify(t, h.file(dir+"/root.pem").Data, c.Fullchain, "a.test", time.Now()); err != nil {
		t.Error(err)
	}
}

// barrier makes n callers wait for each other at each ln of one of the
// CA's files, so that all of them race for the same name.
func barrier(t *testing.T, n int, names ...string) func(dst string) {
	var mu sync.Mutex
	arrived := map[string]int{}
	open := map[string]chan struct{}{}
	for _, name := range names {
		open[name] = make(chan struct{})
	}
	return func(dst string) {
		ch, ok := open[dst]
		if !ok {
			return
		}
		mu.Lock()
		arrived[dst]++
		if arrived[dst] == n {
			close(ch)
		}
		mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			mu.Lock()
			t.Errorf("only %d of %d callers reached ln %s", arrived[dst], n, dst)
			mu.Unlock()
		}
	}
}

func TestConcurrentCreationMakesOneRoot(t *testing.T) {
	const n = 6
	h := newFakeHost(t)
	h.beforeLink = barrier(t, n, dir+"/root-key.pem", dir+"/root.pem")
	is := localca.New(localca.Options{})
	certs := make([]*acme.Certificate, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := is.Obtain(context.Background(), acme.Request{Domains: []string{"a.test"}, Hosts: []host.Host{h}})
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			certs[i] = c
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	links := 0
	for _, r := range h.ran {
		if strings.HasSuffix(r, " "+dir+"/root-key.pem") {
			links++
		}
	}
	if links != n {
		t.Errorf("%d callers raced to create the key, want all %d", links, n)
	}
	if got := h.paths(dir); len(got) != 2 {
		t.Errorf("files in %s: %v, want root.pem and root-key.pem only", dir, got)
	}
	root := h.file(dir + "/root.pem").Data
	for i, c := range certs {
		if err := verify(t, root, c.Fullchain, "a.test", time.Now()); err != nil {
			t.Errorf("caller %d's certificate: %v", i, err)
		}
	}
}

// An operator's own CA (openssl, mkcert: RSA, PKCS#1 key) dropped into the
// directory is used as is, and its name constraints are respected: a name
// outside them fails at issuance rather than on the clients.
func TestOwnCA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ops CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		PermittedDNSDomains: []string{"test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	h := newFakeHost(t)
	h.files[dir+"/root.pem"] = host.FileSpec{Path: dir + "/root.pem", Data: rootPEM, Mode: 0o644}
	h.files[dir+"/root-key.pem"] = host.FileSpec{Path: dir + "/root-key.pem", Data: keyPEM, Mode: 0o600}

	is := localca.New(localca.Options{})
	c := obtain(t, is, h, "shop.test", "*.shop.test")
	if err := verify(t, rootPEM, c.Fullchain, "www.shop.test", time.Now()); err != nil {
		t.Error(err)
	}
	_, err = is.Obtain(context.Background(), acme.Request{Domains: []string{"shop.test", "shop.example.com"}, Hosts: []host.Host{h}})
	if err == nil || !strings.Contains(err.Error(), "does not verify against the local CA root") {
		t.Errorf("name outside the root's constraints: err = %v", err)
	}
	if w, _ := h.counts(); w != 0 {
		t.Errorf("%d writes with an existing CA", w)
	}
}

func TestDescribe(t *testing.T) {
	got := localca.New(localca.Options{}).Describe([]string{"a.test", "b.test"})
	for _, want := range []string{"a.test, b.test", "/etc/myapp/local-ca/root.pem"} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe = %q, want it to mention %q", got, want)
		}
	}
}
