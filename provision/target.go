package provision

import (
	"context"
	"fmt"
	"net"
	"path"
	"strings"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/provision/host"
)

// Paths are the fixed host locations of DESIGN.md for one app.
type Paths struct {
	App           string
	ConfigDir     string // /etc/myapp/<app>
	Config        string // /etc/myapp/<app>/myapp.toml
	Env           string // /etc/myapp/<app>/.env
	CARoots       string // /etc/myapp/<app>/ca-roots.pem (copy of acme.ca_roots)
	CertDir       string // /etc/myapp/<app>/certs/<first domain>: a symlink to a version in CertArchive
	CertArchive   string // /etc/myapp/<app>/certs/.archive/<first domain>
	Fullchain     string
	Privkey       string
	ACMEState     string // /var/lib/myapp/acme
	AppState      string // /var/lib/myapp/<app>
	DB            string // /var/lib/myapp/<app>/app.db
	WWW           string // /var/www/<app>
	Releases      string
	Current       string
	Webroot       string // /var/www/<app>/acme
	SiteAvailable string
	SiteEnabled   string
	Binary        string
}

// ServiceUser runs the auth server and the API; created by init.
const ServiceUser = "myapp"

// PathsFor returns the host paths of app whose first domain is domain.
func PathsFor(app, domain string) Paths { return PathsUnder("", app, domain) }

// PathsUnder is PathsFor with every path below root (tests use a
// temporary directory; production uses "", the host's /).
func PathsUnder(root, app, domain string) Paths {
	cd := root + "/etc/myapp/" + app
	certs := path.Join(cd, "certs", domain)
	www := root + "/var/www/" + app
	lib := root + "/var/lib/myapp"
	return Paths{
		App: app, ConfigDir: cd, Config: cd + "/myapp.toml", Env: cd + "/.env", CARoots: cd + "/ca-roots.pem",
		CertDir: certs, CertArchive: path.Join(cd, "certs", ".archive", domain), Fullchain: certs + "/fullchain.pem", Privkey: certs + "/privkey.pem",
		ACMEState: lib + "/acme", AppState: lib + "/" + app, DB: lib + "/" + app + "/app.db",
		WWW: www, Releases: www + "/releases", Current: www + "/current", Webroot: www + "/acme",
		SiteAvailable: root + "/etc/nginx/sites-available/" + app + ".conf",
		SiteEnabled:   root + "/etc/nginx/sites-enabled/" + app + ".conf",
		Binary:        root + "/usr/local/bin/myapp",
	}
}

// Unit names.
func (p Paths) AuthUnit() string     { return p.App + "-auth.service" }
func (p Paths) APIUnit() string      { return p.App + "-api.service" }
func (p Paths) RenewService() string { return p.App + "-renew.service" }
func (p Paths) RenewTimer() string   { return p.App + "-renew.timer" }

// Target is one host being provisioned, with what steps share during a run.
type Target struct {
	Host   host.Host
	Cfg    *config.Config
	Paths  Paths
	Facts  Facts
	DryRun bool
	Getenv func(string) string
	// DisableCertbot disables certbot lineages for the app's names.
	DisableCertbot bool
	// Binary is the local path of the linux binary to install on the host.
	Binary string
	// Issuer obtains certificates; nil means no certificate can be obtained.
	Issuer Issuer
	// Resolver looks up the domains for the preflight check (nil: the
	// system's resolver).
	Resolver *net.Resolver

	// Shared between steps of one run.
	certReady   bool // a certificate is installed (in dry-run: would be)
	restartAuth bool // binary, config or .env changed: restart running services
	siteChanged bool
	planned     map[string]host.FileSpec // dry run: files earlier steps would write
}

// Facts are what a step needs to know about a host before planning.
type Facts struct {
	UID          string
	Arch         string // uname -m
	OS           string // os-release ID
	OSVersion    string
	NginxVersion string // installed, "" when missing
	NginxCand    string // apt candidate when missing
	NginxDpkgOK  bool   // dpkg says nginx (or no package at all) is fully installed
	Systemd      bool
}

// factsScript only reads: it runs during --dry-run too.
const factsScript = `echo "uid=$(id -u)"
echo "arch=$(uname -m)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os=$ID"; echo "os_version=$VERSION_ID"; fi
if command -v dpkg-query >/dev/null 2>&1; then
  bad=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'nginx*' 'libnginx*' 2>/dev/null | grep -v '^ii ' | grep -v '^un ' | head -1)
  [ -z "$bad" ] && echo nginx_dpkg=ok
else echo nginx_dpkg=ok; fi
if command -v nginx >/dev/null 2>&1; then echo "nginx=$(nginx -v 2>&1 | sed -n 's#.*nginx/\([0-9.]*\).*#\1#p')"
elif command -v apt-cache >/dev/null 2>&1; then echo "nginx_candidate=$(apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: *//p')"; fi
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
`

// GatherFacts reads t.Host's facts.
func (t *Target) GatherFacts(ctx context.Context) error {
	out, err := t.Host.Run(ctx, host.Cmd{Argv: []string{"sh", "-c", factsScript}})
	if err != nil {
		return fmt.Errorf("gather facts: %w", err)
	}
	f := Facts{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "uid":
			f.UID = v
		case "arch":
			f.Arch = v
		case "os":
			f.OS = v
		case "os_version":
			f.OSVersion = v
		case "nginx":
			f.NginxVersion = v
		case "nginx_candidate":
			f.NginxCand = upstreamVersion(v)
		case "nginx_dpkg":
			f.NginxDpkgOK = v == "ok"
		case "systemd":
			f.Systemd = v == "yes"
		}
	}
	t.Facts = f
	return nil
}

// upstreamVersion turns a Debian version "1:1.22.1-9+deb12u11" into "1.22.1".
func upstreamVersion(v string) string {
	if i := strings.Index(v, ":"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.Index(v, "-"); i >= 0 {
		v = v[:i]
	}
	if v == "(none)" {
		return ""
	}
	return v
}

// nginxVersion is the version to render for: installed, else the one apt
// would install, else Debian 12's.
func (t *Target) nginxVersion() string {
	switch {
	case t.Facts.NginxVersion != "":
		return t.Facts.NginxVersion
	case t.Facts.NginxCand != "":
		return t.Facts.NginxCand
	}
	return "1.22.1"
}
