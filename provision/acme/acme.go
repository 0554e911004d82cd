// Package acme obtains certificates with lego (ACME, HTTP-01). The challenge
// files and the ACME account live on the target host and are read and written
// through host.Host, so the same code works on the host itself (cert renew)
// and from an operator's laptop or CI over SSH (init).
package acme

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/http01"
	"github.com/go-acme/lego/v4/lego"
	legolog "github.com/go-acme/lego/v4/log"
	"github.com/go-acme/lego/v4/registration"

	"github.com/myapp/myapp/provision/host"
)

// Options configure an Issuer.
type Options struct {
	DirectoryURL string
	Email        string
	CARootsPEM   []byte // extra roots to trust for the ACME server's TLS
	KeyType      string // ec256 | ec384 | rsa2048 | rsa4096
	Profile      string
	EABKid       string
	EABHMAC      string
	StateDir     string // on the host: /var/lib/myapp/acme
	Webroot      string // on the host: /var/www/<app>/acme
	Log          io.Writer
	UserAgent    string
}

// Certificate is an issued key and chain, PEM encoded.
type Certificate struct {
	Fullchain []byte
	Key       []byte
}

// Issuer obtains certificates from one ACME directory.
type Issuer struct{ opts Options }

// New returns an Issuer; it contacts nothing until Obtain.
func New(opts Options) *Issuer {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Issuer{opts: opts}
}

// Describe says what Obtain would do, for --dry-run.
func (is *Issuer) Describe(domains []string) string {
	return fmt.Sprintf("obtain a certificate for %s from %s (HTTP-01 via %s)", strings.Join(domains, ", "), is.opts.DirectoryURL, is.opts.Webroot)
}

// Obtain orders a certificate for domains (all on one certificate), placing
// HTTP-01 answers in the webroot of h, and returns it. It installs nothing.
func (is *Issuer) Obtain(ctx context.Context, h host.Host, domains []string) (*Certificate, error) {
	legolog.Logger = stdlog.New(is.opts.Log, "acme: ", 0)
	kt, err := keyType(is.opts.KeyType)
	if err != nil {
		return nil, err
	}
	acct, err := is.loadAccount(ctx, h)
	if err != nil {
		return nil, err
	}
	cfg := lego.NewConfig(acct)
	cfg.CADirURL = is.opts.DirectoryURL
	cfg.Certificate.KeyType = kt
	cfg.UserAgent = is.opts.UserAgent
	cfg.HTTPClient, err = httpClient(is.opts.CARootsPEM)
	if err != nil {
		return nil, err
	}
	client, err := lego.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("contact ACME directory %s: %w", is.opts.DirectoryURL, err)
	}
	if err := client.Challenge.SetHTTP01Provider(&webroot{ctx: ctx, h: h, dir: is.opts.Webroot}); err != nil {
		return nil, err
	}
	if acct.Registration == nil {
		if err := is.register(ctx, h, client, acct); err != nil {
			return nil, err
		}
	}
	res, err := client.Certificate.Obtain(certificate.ObtainRequest{Domains: domains, Bundle: true, Profile: is.opts.Profile})
	if err != nil {
		return nil, fmt.Errorf("obtain certificate for %s: %w", strings.Join(domains, ", "), err)
	}
	return &Certificate{Fullchain: res.Certificate, Key: res.PrivateKey}, nil
}

func (is *Issuer) register(ctx context.Context, h host.Host, client *lego.Client, acct *account) error {
	var reg *registration.Resource
	var err error
	if is.opts.EABKid != "" {
		reg, err = client.Registration.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
			TermsOfServiceAgreed: true, Kid: is.opts.EABKid, HmacEncoded: is.opts.EABHMAC})
	} else {
		reg, err = client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	}
	if err != nil {
		return fmt.Errorf("register ACME account: %w", err)
	}
	acct.Registration = reg
	return is.saveAccount(ctx, h, acct)
}

func httpClient(roots []byte) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(roots) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(roots) {
			return nil, errors.New("acme.ca_roots: no PEM certificate found")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

func keyType(s string) (certcrypto.KeyType, error) {
	switch s {
	case "", "ec256":
		return certcrypto.EC256, nil
	case "ec384":
		return certcrypto.EC384, nil
	case "rsa2048":
		return certcrypto.RSA2048, nil
	case "rsa4096":
		return certcrypto.RSA4096, nil
	}
	return "", fmt.Errorf("unknown key type %q", s)
}

// webroot is lego's HTTP-01 provider writing through a Host.
type webroot struct {
	ctx context.Context
	h   host.Host
	dir string
}

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (w *webroot) path(token string) (string, error) {
	if !tokenRe.MatchString(token) { // the CA chooses tokens: never let one escape the webroot
		return "", fmt.Errorf("refusing unexpected ACME token %q", token)
	}
	return path.Join(w.dir, http01.ChallengePath(token)), nil
}

func (w *webroot) Present(domain, token, keyAuth string) error {
	p, err := w.path(token)
	if err != nil {
		return err
	}
	return w.h.WriteFile(w.ctx, host.FileSpec{Path: p, Data: []byte(keyAuth), Mode: 0o644})
}

func (w *webroot) CleanUp(domain, token, keyAuth string) error {
	p, err := w.path(token)
	if err != nil {
		return err
	}
	return w.h.Remove(w.ctx, p)
}

// account is a registration.User persisted on the host.
type account struct {
	Email        string                 `json:"email"`
	Registration *registration.Resource `json:"registration"`
	key          crypto.PrivateKey
}

func (a *account) GetEmail() string                        { return a.Email }
func (a *account) GetRegistration() *registration.Resource { return a.Registration }
func (a *account) GetPrivateKey() crypto.PrivateKey        { return a.key }

// accountDir is unique per CA and email: /var/lib/myapp/acme/accounts/<ca host+path>/<email>.
func (is *Issuer) accountDir() string {
	ca := "ca"
	if u, err := url.Parse(is.opts.DirectoryURL); err == nil {
		ca = strings.NewReplacer(":", "_", "/", "_").Replace(u.Host + u.Path)
	}
	who := is.opts.Email
	if who == "" {
		who = "default"
	}
	return path.Join(is.opts.StateDir, "accounts", ca, who)
}

func (is *Issuer) loadAccount(ctx context.Context, h host.Host) (*account, error) {
	dir := is.accountDir()
	acct := &account{Email: is.opts.Email}
	keyPEM, err := h.ReadFile(ctx, dir+"/account.key")
	switch {
	case host.IsNotExist(err):
		k, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
		if err != nil {
			return nil, err
		}
		acct.key = k
		if err := h.WriteFile(ctx, host.FileSpec{Path: dir + "/account.key", Data: certcrypto.PEMEncode(k), Mode: 0o600}); err != nil {
			return nil, fmt.Errorf("save ACME account key: %w", err)
		}
		return acct, nil
	case err != nil:
		return nil, fmt.Errorf("read ACME account key: %w", err)
	}
	if acct.key, err = certcrypto.ParsePEMPrivateKey(keyPEM); err != nil {
		return nil, fmt.Errorf("parse %s/account.key: %w", dir, err)
	}
	data, err := h.ReadFile(ctx, dir+"/account.json")
	if host.IsNotExist(err) {
		return acct, nil
	} else if err != nil {
		return nil, fmt.Errorf("read ACME account: %w", err)
	}
	if err := json.Unmarshal(data, acct); err != nil {
		return nil, fmt.Errorf("parse %s/account.json: %w", dir, err)
	}
	return acct, nil
}

func (is *Issuer) saveAccount(ctx context.Context, h host.Host, acct *account) error {
	data, err := json.MarshalIndent(acct, "", "  ")
	if err != nil {
		return err
	}
	return h.WriteFile(ctx, host.FileSpec{Path: is.accountDir() + "/account.json", Data: data, Mode: 0o600})
}
