package templates

import (
	"fmt"
	"strings"
)

// Site is the data of one app's nginx site
// (/etc/nginx/sites-available/<app>.conf on the host).
type Site struct {
	App          string   // [a-z0-9-]; names the TLS session cache
	Domains      []string // server names; the first one is the primary
	Root         string   // the SPA, normally /var/www/<app>/current
	Webroot      string   // ACME HTTP-01 root, normally /var/www/<app>/acme; files live in Webroot/.well-known/acme-challenge/
	APIUpstream  string   // http://host:port, proxied at /api/ with the prefix stripped
	AuthUpstream string   // http://host:port, proxied at /auth/ with the prefix stripped
	// TLS false renders the HTTP-only bootstrap site, which needs no
	// certificate, so nginx starts before the first one is issued.
	TLS      bool
	CertFile string // fullchain.pem; required when TLS
	KeyFile  string // privkey.pem; required when TLS
	// NginxVersion is the installed nginx ("1.22.1", from `nginx -v`);
	// required when TLS because HTTP/2 is spelled differently from 1.25.1 on.
	NginxVersion string
}

// http2OnSince is the first nginx with the "http2" directive; from then on
// "listen ... http2" is deprecated and warns on every reload.
var http2OnSince = [3]int{1, 25, 1}

// Mozilla's "intermediate" TLS 1.2 cipher list (guidelines 6.0). It has no
// DHE suites: those need a dhparam file and add nothing for current clients.
// TLS 1.3 suites are not configurable through ssl_ciphers and need no list.
const intermediateCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// siteView is what the template sees: the validated Site plus values derived
// from it, so the template holds no logic beyond conditionals.
type siteView struct {
	Site
	ServerNames string
	HTTP2On     bool   // "http2 on;" rather than "listen ... http2"
	APIProxy    string // upstream with a trailing "/", which makes nginx strip the location prefix
	AuthProxy   string
	SessionZone string // per-app ssl_session_cache zone (see RenderSite)
	Ciphers     string
	// Headers are added at server level and repeated in every location that
	// has its own add_header: nginx drops inherited add_header directives
	// in such a location, which would silently lose HSTS there.
	Headers []string
}

// RenderSite renders the nginx site for s after validating every field.
//
// The site serves the SPA from Root (try_files with an index.html fallback),
// answers missing asset files with a real 404, proxies /api/ and /auth/ with
// their prefix stripped and never falls back to the SPA under them, and
// serves ACME HTTP-01 challenges from Webroot on port 80 in both modes. With
// TLS it redirects everything else on port 80 to HTTPS and serves HTTP/2 with
// Mozilla's intermediate profile and HSTS. It deliberately has no
// default_server: other sites on the host keep theirs.
func RenderSite(s Site) ([]byte, error) {
	if err := validateSite(s); err != nil {
		return nil, fmt.Errorf("render nginx site: %w", err)
	}
	v := siteView{
		Site:        s,
		ServerNames: strings.Join(s.Domains, " "),
		APIProxy:    strings.TrimSuffix(s.APIUpstream, "/") + "/",
		AuthProxy:   strings.TrimSuffix(s.AuthUpstream, "/") + "/",
		// A zone name of our own: another site on the host declaring the
		// common "shared:SSL" with a different size would make nginx refuse
		// to start. App names have no "_", so this cannot collide.
		SessionZone: "myapp_" + strings.ReplaceAll(s.App, "-", "_"),
		Ciphers:     intermediateCiphers,
		Headers:     []string{`X-Content-Type-Options "nosniff"`},
	}
	if s.TLS {
		ver, _ := parseVersion(s.NginxVersion) // validated above
		v.HTTP2On = versionAtLeast(ver, http2OnSince)
		// Two years, as Mozilla recommends; no includeSubDomains, because
		// other hosts under the same domain may not serve HTTPS.
		v.Headers = append([]string{`Strict-Transport-Security "max-age=63072000"`}, v.Headers...)
	}
	return render("site.conf.tmpl", v)
}

func validateSite(s Site) error {
	c := checker{strct: "Site"}
	c.check("App", s.App, appReason(s.App))
	if len(s.Domains) == 0 {
		c.check("Domains", "", "at least one domain is required")
	}
	seen := map[string]bool{}
	for i, d := range s.Domains {
		field := fmt.Sprintf("Domains[%d]", i)
		c.check(field, d, domainReason(d))
		if seen[d] {
			c.check(field, d, "listed twice")
		}
		seen[d] = true
	}
	c.check("Root", s.Root, pathReason(s.Root))
	c.check("Webroot", s.Webroot, pathReason(s.Webroot))
	c.check("APIUpstream", s.APIUpstream, upstreamReason(s.APIUpstream))
	c.check("AuthUpstream", s.AuthUpstream, upstreamReason(s.AuthUpstream))
	if s.TLS {
		c.check("CertFile", s.CertFile, pathReason(s.CertFile))
		c.check("KeyFile", s.KeyFile, pathReason(s.KeyFile))
	}
	// The version is only needed with TLS, but a malformed one is a bug in
	// the caller's `nginx -v` parsing worth reporting either way.
	if _, ok := parseVersion(s.NginxVersion); !ok && (s.TLS || s.NginxVersion != "") {
		c.check("NginxVersion", s.NginxVersion, `must be a version like "1.22.1"`)
	}
	return c.err()
}
