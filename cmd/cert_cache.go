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

// decisionFiles are the files an app's not-due answer depends on, besides
// its config: the certificate, key and state, and the CA roots file the
// issuer reads.
func decisionFiles(cfg *config.Config) []string {
	files := provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0]).DecisionFiles()
	if cfg.ACME.CARoots != "" {
		files = append(files, cfg.CARootsPath())
	}
	return files
}

// needsIssuerCheck reports whether setting up cfg's issuer can fail for
// reasons outside myapp.toml (DNS credentials missing, the CA roots file
// gone, the EAB secret unset): a not-due run then sets it up too
// (checkIssuer), so that the problem is reported before renewal is due.
func needsIssuerCheck(cfg *config.Config) bool {
	return cfg.ACME.DNSProvider != "" || cfg.ACME.CARoots != "" || cfg.ACME.EABKid != ""
}

// rememberable reports whether everything cfg's issuer check reads is in
// files the answer is stamped with: not so for DNS credentials and an EAB
// secret from the environment, which are checked on every run instead.
func rememberable(cfg *config.Config) bool {
	return cfg.ACME.DNSProvider == "" && !strings.Contains(cfg.ACME.EABHMAC, "${")
}
