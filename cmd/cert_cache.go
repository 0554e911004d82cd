package cmd

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/internal/statcache"
	"github.com/myapp/myapp/provision"
)

// renewCachePath is where cert renew --all remembers its not-due answers.
func renewCachePath() string { return hostRoot + "/var/lib/myapp/acme/renew-cache" }

// openRenewCache returns the not-due answers of earlier --all runs, each
// good while its app's config, certificate, key and renewal state are
// unchanged and its renewal time (or the next question to the CA) has not
// come: a no-op run then only asks the kernel whether those files changed
// (internal/statcache). nil when it must not be used: --force, or MYAPP_*
// overrides in the environment (the answers came from the files alone).
// The cache is keyed to this binary and its GODEBUG settings (which can
// change how a certificate parses): a new build starts afresh.
func openRenewCache(g *Globals, opts *CertOptions) *statcache.Cache {
	if opts.Force {
		return nil
	}
	for _, n := range config.EnvNames() {
		if g.Getenv(n) != "" {
			return nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	id, err := statcache.FileID(exe)
	if err != nil {
		return nil
	}
	return statcache.Open(renewCachePath(), "myapp "+g.Version+" "+id+" GODEBUG="+strconv.Quote(g.Getenv("GODEBUG")))
}

// cachedNotDue is the remembered answer for a, if it still holds.
func cachedNotDue(c *statcache.Cache, a hostApp, now time.Time) (certResult, bool) {
	if c == nil {
		return certResult{}, false
	}
	v, ok := c.Get(a.config, now)
	if !ok || len(v) != 6 {
		return certResult{}, false
	}
	notAfter, err1 := statcache.ParseTime(v[4])
	renewAt, err2 := statcache.ParseTime(v[5])
	if err1 != nil || err2 != nil || v[0] == "" || v[1] == "" {
		return certResult{}, false
	}
	return certResult{App: a.name, Config: a.config, RenewResult: provision.RenewResult{
		Name: v[0], Domains: strings.Split(v[1], " "), Status: provision.StatusNotDue, Reason: v[2], Serial: v[3],
		NotAfter: notAfter, RenewAt: renewAt,
	}}, true
}

// rememberNotDue stores a not-due answer for a, decided from the files
// stamped before they were read, starting at since, good until until.
func rememberNotDue(c *statcache.Cache, a hostApp, r certResult, stamps statcache.Stamps, since, until time.Time) {
	if c == nil {
		return
	}
	v := []string{r.Name, strings.Join(r.Domains, " "), r.Reason, r.Serial,
		statcache.FormatTime(r.NotAfter), statcache.FormatTime(r.RenewAt)}
	c.Put(a.config, v, stamps, since, until)
}

// decisionStamps stamps what an app's not-due answer depends on besides
// its config, before it is read: the certificate, key and state, the CA
// roots file the issuer check reads, and the certs/<domain> link itself
// (switched away and back while the files are read, it is a new link).
func decisionStamps(cfg *config.Config) statcache.Stamps {
	p := provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0])
	files := p.DecisionFiles()
	if cfg.ACME.CARoots != "" {
		files = append(files, cfg.CARootsPath())
	}
	return append(statcache.Stamp(files...), statcache.StampLinks(p.CertDir)...)
}

// needsIssuerCheck reports whether cfg's issuer reads something outside
// myapp.toml that checkIssuer can check without the network.
func needsIssuerCheck(cfg *config.Config) bool {
	return cfg.ACME.Directory != "local" && (cfg.ACME.CARoots != "" || cfg.ACME.EABKid != "")
}

// rememberable reports whether everything checkIssuer reads is in files
// the answer is stamped with: not so for an EAB secret taken from the
// environment, which is checked on every run instead.
func rememberable(cfg *config.Config) bool {
	return !strings.Contains(cfg.ACME.EABHMAC, "${")
}
