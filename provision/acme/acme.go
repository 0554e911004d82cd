// Package acme obtains certificates with lego (ACME, HTTP-01 or DNS-01).
// The challenge files and the ACME account live on the target host and are
// read and written through host.Host, so the same code works on the host
// itself (cert renew) and from an operator's laptop or CI over SSH (init).
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

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge"
	"github.com/go-acme/lego/v4/challenge/dns01"
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
	// DNS, when set, answers DNS-01 challenges (wildcards, hosts without
	// port 80) instead of HTTP-01 through the webroot.
	DNS challenge.Provider
	// DNSResolver (host[:port], MYAPP_DNS_RESOLVER), when set, is the one
	// DNS server asked whether a DNS-01 record is visible before the CA is
	// told to look, instead of the system's resolvers and then the zone's
	// authoritative servers: for private DNS (split horizon) and tests.
	DNSResolver string
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
	how := "HTTP-01 via " + is.opts.Webroot
	if is.opts.DNS != nil {
		how = "DNS-01"
	}
	return fmt.Sprintf("obtain a certificate for %s from %s (%s)", strings.Join(domains, ", "), is.opts.DirectoryURL, how)
}

// Request is one certificate order.
type Request struct {
	Domains []string // all on one certificate; the first is the common name
	// Hosts receive the HTTP-01 answers: every host serving the domains,
	// since a load balancer may send the validation to any of them. The
	// ACME account lives on the first.
	Hosts []host.Host
	// Replaces is the certificate being renewed, announced to the CA
	// (RFC 9773 "replaces") when it publishes renewal windows.
	Replaces *x509.Certificate
}

// RenewalInfo is a CA's suggested renewal window for one certificate.
type RenewalInfo struct {
	Start, End  time.Time
	Explanation string
	NextPoll    time.Time // when to ask again (Retry-After)
}

// ErrNoARI means the CA does not publish renewal windows.
var ErrNoARI = errors.New("the CA does not support ACME renewal information")

// RateLimitError is a CA's refusal with a time to come back.
type RateLimitError struct {
	Err        error
	RetryAfter time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v (the CA asks to retry after %s)", e.Err, e.RetryAfter.UTC().Format(time.RFC3339))
}
func (e *RateLimitError) Unwrap() error { return e.Err }

// UsesHTTP01 reports whether validation goes through the webroot.
func (is *Issuer) UsesHTTP01() bool { return is.opts.DNS == nil }

// client connects to the CA with the account kept on h.
func (is *Issuer) client(ctx context.Context, h host.Host) (*lego.Client, *account, error) {
	legolog.Logger = stdlog.New(is.opts.Log, "acme: ", 0)
	kt, err := keyType(is.opts.KeyType)
	if err != nil {
		return nil, nil, err
	}
	acct, err := is.loadAccount(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	client, err := is.legoClient(acct, kt)
	return client, acct, err
}

// legoClient connects to the CA as acct: with its key id when it has a
// registration, else ready to register.
func (is *Issuer) legoClient(acct *account, kt certcrypto.KeyType) (*lego.Client, error) {
	cfg := lego.NewConfig(acct)
	cfg.CADirURL = is.opts.DirectoryURL
	cfg.Certificate.KeyType = kt
	cfg.UserAgent = is.opts.UserAgent
	var err error
	if cfg.HTTPClient, err = httpClient(is.opts.CARootsPEM); err != nil {
		return nil, err
	}
	client, err := lego.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("contact ACME directory %s: %w", is.opts.DirectoryURL, err)
	}
	return client, nil
}

// Obtain orders a certificate, placing HTTP-01 answers in the webroot of
// every host of req, and returns it. It installs nothing.
func (is *Issuer) Obtain(ctx context.Context, req Request) (*Certificate, error) {
	if len(req.Hosts) == 0 {
		return nil, errors.New("obtain: no host")
	}
	client, acct, err := is.client(ctx, req.Hosts[0])
	if err != nil {
		return nil, err
	}
	if err := is.setChallenges(ctx, client, req); err != nil {
		return nil, err
	}
	if acct.Registration == nil {
		if err := is.register(ctx, req.Hosts[0], client, acct); err != nil {
			return nil, err
		}
	}
	or := certificate.ObtainRequest{Domains: req.Domains, Bundle: true, Profile: is.opts.Profile}
	if req.Replaces != nil {
		if id, err := certificate.MakeARICertID(req.Replaces); err == nil {
			or.ReplacesCertID = id
		}
	}
	res, err := client.Certificate.Obtain(or)
	if err != nil && strings.Contains(err.Error(), "urn:ietf:params:acme:error:accountDoesNotExist") {
		// The CA forgot the account (a test CA restarted, or the account
		// was deactivated): register the key again, on a client that
		// signs with the key itself rather than the forgotten key id,
		// and retry once.
		acct.Registration = nil
		kt, _ := keyType(is.opts.KeyType)
		if client, err = is.legoClient(acct, kt); err != nil {
			return nil, err
		}
		if err := is.setChallenges(ctx, client, req); err != nil {
			return nil, err
		}
		if err := is.register(ctx, req.Hosts[0], client, acct); err != nil {
			return nil, err
		}
		res, err = client.Certificate.Obtain(or)
	}
	if err != nil && or.ReplacesCertID != "" && refusedReplaces(err) {
		// The CA refused the "replaces" hint (already replaced by an order
		// that failed later, or a certificate of an issuer it no longer
		// knows): order plainly instead.
		or.ReplacesCertID = ""
		res, err = client.Certificate.Obtain(or)
	}
	if err != nil {
		return nil, classify(fmt.Errorf("obtain certificate for %s: %w", strings.Join(req.Domains, ", "), err))
	}
	return &Certificate{Fullchain: res.Certificate, Key: res.PrivateKey}, nil
}

// refusedReplaces reports whether an order failed on its "replaces"
// field (RFC 9773 §5): the CA's messages name it, or the ARI CertID.
func refusedReplaces(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "replace") || strings.Contains(msg, "certid") || strings.Contains(msg, "renewal info")
}

// setChallenges answers DNS-01 through the provider when there is one,
// else HTTP-01 through the webroot of every host of req.
func (is *Issuer) setChallenges(ctx context.Context, client *lego.Client, req Request) error {
	if is.opts.DNS != nil {
		var opts []dns01.ChallengeOption
		if r := is.opts.DNSResolver; r != "" {
			opts = append(opts, dns01.AddRecursiveNameservers([]string{r}),
				dns01.DisableAuthoritativeNssPropagationRequirement(), dns01.RecursiveNSsPropagationRequirement())
		}
		return client.Challenge.SetDNS01Provider(is.opts.DNS, opts...)
	}
	return client.Challenge.SetHTTP01Provider(&webroot{ctx: ctx, hosts: req.Hosts, dir: is.opts.Webroot})
}

// RenewalInfo asks the CA for leaf's renewal window.
func (is *Issuer) RenewalInfo(ctx context.Context, h host.Host, leaf *x509.Certificate) (*RenewalInfo, error) {
	client, _, err := is.client(ctx, h)
	if err != nil {
		return nil, err
	}
	ri, err := client.Certificate.GetRenewalInfo(certificate.RenewalInfoRequest{Cert: leaf})
	if err != nil {
		if errors.Is(err, api.ErrNoARI) {
			return nil, ErrNoARI
		}
		return nil, fmt.Errorf("renewal info: %w", err)
	}
	retry := ri.RetryAfter
	if retry <= 0 {
		retry = 6 * time.Hour
	}
	return &RenewalInfo{Start: ri.SuggestedWindow.Start, End: ri.SuggestedWindow.End,
		Explanation: ri.ExplanationURL, NextPoll: time.Now().Add(retry)}, nil
}

// classify turns a CA's rate-limit answer into a *RateLimitError.
func classify(err error) error {
	var rl *legoacme.RateLimitedError
	if errors.As(err, &rl) {
		if d, perr := api.ParseRetryAfter(rl.RetryAfter); perr == nil && d > 0 {
			return &RateLimitError{Err: err, RetryAfter: time.Now().Add(d)}
		}
		return &RateLimitError{Err: err, RetryAfter: time.Now().Add(time.Hour)}
	}
	return err
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

// webroot is lego's HTTP-01 provider writing through Hosts.
type webroot struct {
	ctx   context.Context
	hosts []host.Host
	dir   string
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
	for _, h := range w.hosts {
		if err := h.WriteFile(w.ctx, host.FileSpec{Path: p, Data: []byte(keyAuth), Mode: 0o644}); err != nil {
			return fmt.Errorf("%s: write HTTP-01 answer: %w", h.Name(), err)
		}
	}
	return nil
}

func (w *webroot) CleanUp(domain, token, keyAuth string) error {
	p, err := w.path(token)
	if err != nil {
		return err
	}
	var first error
	// Clean up even when the run was interrupted: a stale answer is harmless
	// but clutters the webroot.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	for _, h := range w.hosts {
		if err := h.Remove(ctx, p); err != nil && first == nil {
			first = err
		}
	}
	return first
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
