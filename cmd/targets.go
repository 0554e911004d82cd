package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/challenge"
	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/envfile"
	"github.com/myapp/myapp/internal/readfile"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/dnsproviders"
	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/provision/localca"
)

// HostSelection is --local / --host as given.
type HostSelection struct {
	Local bool
	Hosts []string
}

// hostRef is one resolved target, not yet connected.
type hostRef struct {
	name  string
	local bool
	ssh   host.SSHConfig
}

// resolveHosts turns the flags into targets, before anything connects:
// a typo in --host is a usage error, not a half-done run.
func resolveHosts(cfg *config.Config, sel HostSelection) ([]hostRef, error) {
	if sel.Local && len(sel.Hosts) > 0 {
		return nil, usageErrorf("--local and --host cannot be combined")
	}
	if sel.Local {
		return []hostRef{{name: "local", local: true}}, nil
	}
	if len(sel.Hosts) == 0 && len(cfg.Hosts) == 0 && isManagedHost(cfg) {
		// On a provisioned host, with its installed config: act here.
		return []hostRef{{name: "local", local: true}}, nil
	}
	names := sel.Hosts
	if len(names) == 0 {
		for _, h := range cfg.Hosts {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return nil, usageErrorf("no host to act on: pass --local or --host, or add [[hosts]] to %s", cfg.Path)
	}
	var refs []hostRef
	seen := map[string]bool{}
	for _, n := range names {
		ref, err := resolveHost(cfg, n)
		if err != nil {
			return nil, err
		}
		if seen[ref.name] {
			continue
		}
		seen[ref.name] = true
		refs = append(refs, ref)
	}
	return refs, nil
}

func resolveHost(cfg *config.Config, n string) (hostRef, error) {
	if h, ok := cfg.LookupHost(n); ok {
		return hostRef{name: h.Name, ssh: host.SSHConfig{Name: h.Name, Address: h.Address, User: h.User,
			IdentityFile: h.IdentityFile, KnownHostsFile: h.KnownHosts, HostKey: h.HostKey}}, nil
	}
	user, addr, ok := strings.Cut(n, "@")
	if !ok {
		return hostRef{}, usageErrorf("--host %q: not a [[hosts]] name in %s, and not user@address[:port]", n, cfg.Path)
	}
	if _, _, err := config.SplitAddress(addr); err != nil || user == "" || strings.ContainsAny(user, " ;'\"$") {
		return hostRef{}, usageErrorf("--host %q: want user@address[:port]", n)
	}
	return hostRef{name: n, ssh: host.SSHConfig{Name: n, Address: addr, User: user}}, nil
}

func (r hostRef) connect(ctx context.Context) (host.Host, error) {
	if r.local {
		return host.NewLocal(), nil
	}
	return host.DialSSH(ctx, r.ssh) // its errors name the host and the step

}

// newTarget prepares a provisioning target for cfg on h.
func newTarget(g *Globals, cfg *config.Config, h host.Host, dryRun bool) (*provision.Target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	t := &provision.Target{
		Host: h, Cfg: cfg, Paths: provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0]),
		DryRun: dryRun, Getenv: g.Getenv, Binary: self,
	}
	if addr := g.Getenv("MYAPP_DNS_RESOLVER"); addr != "" {
		t.Resolver = resolverAt(addr)
	}
	if cfg.ACME.Directory == "local" {
		t.Issuer = localca.New(localca.Options{KeyType: cfg.ACME.KeyType})
	} else {
		is, err := newIssuer(g, cfg, t.Paths)
		if err != nil {
			return nil, err
		}
		t.Issuer = is
	}
	return t, nil
}

func newIssuer(g *Globals, cfg *config.Config, p provision.Paths) (*acme.Issuer, error) {
	roots, hmac, err := issuerInputs(g, cfg)
	if err != nil {
		return nil, err
	}
	dns, err := newDNSProvider(cfg)
	if err != nil {
		return nil, err
	}
	logw := io.Discard
	if g.Verbose {
		logw = g.Stderr
	}
	return acme.New(acme.Options{
		DirectoryURL: cfg.DirectoryURL(), Email: cfg.ACME.Email, CARootsPEM: roots, KeyType: cfg.ACME.KeyType,
		Profile: cfg.ACME.Profile, EABKid: cfg.ACME.EABKid, EABHMAC: hmac,
		StateDir: p.ACMEState, Webroot: p.Webroot, Log: logw, DNS: dns, DNSResolver: g.Getenv("MYAPP_DNS_RESOLVER"),
		UserAgent: "myapp/" + g.Version + " (" + runtime.GOOS + ")",
	}), nil
}

// forEachHost runs fn on every host in parallel and collects the results in
// the order of refs.
func forEachHost(ctx context.Context, refs []hostRef, fn func(ctx context.Context, ref hostRef) provision.HostResult) []provision.HostResult {
	out := make([]provision.HostResult, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = fn(ctx, ref)
		}()
	}
	wg.Wait()
	return out
}

func isConfigErr(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}

// resultsError maps per-host results to the command's error: nil when all
// succeeded, exit 1 when all failed, exit 3 when some did.
func resultsError(results []provision.HostResult) error {
	errs := make([]error, len(results))
	for i, r := range results {
		if !r.OK {
			errs[i] = r.Err
			if errs[i] == nil {
				errs[i] = errors.New(r.Host + ": failed")
			}
		}
	}
	return outcomeError("hosts", errs)
}

// outcomeError maps the errors of several items (hosts, certificates; nil
// for one that succeeded) to the command's error: nil when all succeeded,
// exit 1 when all failed, exit 3 when some did. When every one failed on
// a config mistake it is exit 2: fixing the configs is the whole fix.
func outcomeError(items string, errs []error) error {
	failed, configErrs := 0, 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			if isConfigErr(err) {
				configErrs++
			}
			if first == nil {
				first = err
			}
		}
	}
	code := exitFailure
	if configErrs == failed {
		code = exitUsage
	}
	switch {
	case failed == 0:
		return nil
	case failed == len(errs) && len(errs) == 1:
		return &exitError{code: code, err: first}
	case failed == len(errs):
		return &exitError{code: code, err: fmt.Errorf("all %d %s failed; first: %w", failed, items, first)}
	}
	return &exitError{code: exitPartial, err: fmt.Errorf("%d of %d %s failed; first: %w", failed, len(errs), items, first)}
}

// issuerInputs reads what the issuer takes from outside myapp.toml, short
// of the DNS provider: the CA roots (acme.ca_roots) and the EAB secret
// (acme.eab_hmac, ${VAR} expanded). Nothing here uses the network.
func issuerInputs(g *Globals, cfg *config.Config) (roots []byte, hmac string, err error) {
	if cfg.ACME.CARoots != "" {
		if roots, err = readCARoots(cfg); err != nil {
			return nil, "", err
		}
	}
	hmac, missing := config.Expand(cfg.ACME.EABHMAC, g.Getenv)
	if len(missing) > 0 && cfg.ACME.EABKid != "" {
		return nil, "", &config.Error{File: cfg.Path, Key: "acme.eab_hmac", Msg: "${" + missing[0] + "} is not set in the environment"}
	}
	return roots, hmac, nil
}

// readCARoots reads acme.ca_roots: a regular file (a FIFO there would
// block the run) holding at least one PEM certificate.
func readCARoots(cfg *config.Config) ([]byte, error) {
	data, err := readfile.ReadRegular(cfg.CARootsPath(), 16<<20)
	if err != nil {
		return nil, &config.Error{File: cfg.Path, Key: "acme.ca_roots", Msg: err.Error()}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return nil, &config.Error{File: cfg.Path, Key: "acme.ca_roots", Msg: fmt.Sprintf("%s holds no PEM certificate", cfg.CARootsPath())}
	}
	return data, nil
}

// resolverAt resolves through the DNS server at addr (MYAPP_DNS_RESOLVER,
// for private DNS and test setups) instead of the system's.
func resolverAt(addr string) *net.Resolver {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "53")
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// isManagedHost reports whether cfg is the config init installed on this
// machine (/etc/myapp/<app>/myapp.toml).
func isManagedHost(cfg *config.Config) bool {
	return cfg.Dir == "/etc/myapp/"+cfg.App
}

// newDNSProvider returns acme.dns_provider configured from the
// environment (see dnsProviderEnv), or nil when DNS-01 is not configured.
// A name it does not know and missing credentials are configuration
// errors (exit 2); nothing is sent over the network.
func newDNSProvider(cfg *config.Config) (challenge.Provider, error) {
	name := cfg.ACME.DNSProvider
	if name == "" {
		return nil, nil
	}
	if err := dnsProviderEnv(cfg, name); err != nil {
		return nil, err
	}
	dns, err := dnsproviders.New(name)
	if err != nil {
		ce := cfg.Errorf("acme.dns_provider", "%s", redactProviderEnv(name, err.Error()))
		if !errors.Is(err, dnsproviders.ErrUnknown) {
			ce.Hint = "set them in the environment of this command or in " + filepath.Join(cfg.Dir, ".env") +
				" (on a host: the app's .env, which [env] in myapp.toml fills and the renewal timer reads)"
		}
		return nil, ce
	}
	if name == "exec" {
		// lego runs it only once the order is placed: check it now.
		p := os.Getenv("EXEC_PATH")
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			why := "is not an executable file"
			if err != nil {
				why = "cannot be used: " + err.Error()
			}
			ce := cfg.Errorf("acme.dns_provider", "exec: EXEC_PATH %s", why)
			ce.Hint = "EXEC_PATH names the program that adds and removes the TXT record, on the machine running myapp (set in the environment or " + filepath.Join(cfg.Dir, ".env") + ")"
			return nil, ce
		}
	}
	return dns, nil
}

// redactProviderEnv replaces, in a DNS provider's configuration error,
// the values of its variables that may hold a secret (tokens, passwords,
// URLs with credentials): lego quotes some of them when they do not parse.
func redactProviderEnv(name, msg string) string {
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if len(v) < 4 || !dnsproviders.ReadsEnv(name, k) {
			continue
		}
		switch {
		case strings.HasSuffix(k, "_PATH"), strings.HasSuffix(k, "_MODE"), strings.HasSuffix(k, "_INTERVAL"),
			strings.HasSuffix(k, "_TIMEOUT"), strings.HasSuffix(k, "_TTL"):
			continue // settings, not secrets: the message may show them
		}
		msg = strings.ReplaceAll(msg, v, "xxxxx")
	}
	return msg
}

// dnsProviderEnv takes the DNS provider's credentials that the process
// environment lacks from the .env beside the config file: on a host the
// app's .env, which the renewal timer's unit reads too, so that `myapp cert
// renew` run by hand finds what the timer finds. Only the provider's own
// variables (dnsproviders.ReadsEnv: CF_*, EXEC_*, ...) are taken; the
// file's other secrets stay out of this process's environment.
func dnsProviderEnv(cfg *config.Config, name string) error {
	path := filepath.Join(cfg.Dir, ".env")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read %s for the DNS provider's credentials: %w", path, err)
	}
	f := envfile.Parse(data)
	for _, k := range f.Keys() {
		if !dnsproviders.ReadsEnv(name, k) || os.Getenv(k) != "" {
			continue
		}
		if v, ok := f.Get(k); ok {
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("%s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}
