package cmd

import (
	"errors"
	"os"
	"strings"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/dnsproviders"
	"github.com/myapp/myapp/templates"
)

// fieldKeys maps template fields to the myapp.toml keys they come from.
var fieldKeys = map[string]string{
	"App": "app", "Domains": "domains", "APIUpstream": "api.upstream", "AuthUpstream": "auth.listen",
	"Listen": "auth.listen", "Argv": "api.command",
}

// checkConfig finds, before any host is touched, every mistake that would
// otherwise surface halfway through a run: it renders the site and units
// once and opens the CA roots. Errors are *config.Error (exit 2).
func checkConfig(g *Globals, cfg *config.Config) error {
	for _, name := range config.UnknownEnv(os.Environ()) {
		g.logf("warning: %s is not a variable myapp reads (typo of an override?)", name)
	}
	p := provision.PathsFor(cfg.App, cfg.Domains[0])
	asConfigErr := func(err error) error {
		var fe *templates.FieldError
		key := ""
		if errors.As(err, &fe) {
			key = fieldKeys[fe.Field]
			if key == "" && len(fe.Field) > 7 && fe.Field[:7] == "Domains" {
				key = "domains"
			}
		}
		return &config.Error{File: cfg.Path, Key: key, Msg: err.Error()}
	}
	if _, err := templates.RenderSite(templates.Site{App: cfg.App, Domains: cfg.Domains, Root: p.Current, Webroot: p.Webroot,
		APIUpstream: cfg.API.Upstream, AuthUpstream: "http://" + cfg.Auth.Listen, TLS: true,
		CertFile: p.Fullchain, KeyFile: p.Privkey, NginxVersion: "1.22.1"}); err != nil {
		return asConfigErr(err)
	}
	if _, err := templates.RenderAuthUnit(templates.AuthUnit{App: cfg.App, Listen: cfg.Auth.Listen, Binary: p.Binary}); err != nil {
		return asConfigErr(err)
	}
	if cfg.API.Command != "" {
		argv, err := templates.SplitCommand(cfg.API.Command)
		if err == nil && len(argv) == 0 {
			err = errors.New("empty command")
		}
		if err != nil {
			return &config.Error{File: cfg.Path, Key: "api.command", Msg: err.Error()}
		}
	}
	if name := cfg.ACME.DNSProvider; name != "" && !dnsproviders.Supported(name) {
		e := cfg.Errorf("acme.dns_provider", "unknown DNS provider %q (supported: %s)", name, strings.Join(dnsproviders.Names(), ", "))
		e.Hint = `for any other DNS service use "exec" (EXEC_PATH: a program that adds and removes the TXT record) or "httpreq" (HTTPREQ_ENDPOINT)`
		return e
	}
	if cfg.ACME.Directory != "local" {
		if _, err := newDNSProvider(cfg); err != nil { // missing credentials, before any host is contacted
			return err
		}
	}
	if cfg.ACME.CARoots != "" {
		if _, err := readCARoots(cfg); err != nil {
			return err
		}
	}
	return nil
}
