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
// The cache is keyed to this binary: a new build starts afresh.
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
	return statcache.Open(renewCachePath(), "myapp "+g.Version+" "+id)
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
	notAfter, err1 := strconv.ParseInt(v[4], 10, 64)
	renewAt, err2 := strconv.ParseInt(v[5], 10, 64)
	if err1 != nil || err2 != nil || v[0] == "" || v[1] == "" {
		return certResult{}, false
	}
	return certResult{App: a.name, Config: a.config, RenewResult: provision.RenewResult{
		Name: v[0], Domains: strings.Split(v[1], " "), Status: provision.StatusNotDue, Reason: v[2], Serial: v[3],
		NotAfter: time.Unix(0, notAfter).UTC(), RenewAt: time.Unix(0, renewAt).UTC(),
	}}, true
}

// rememberNotDue stores a not-due answer for a, decided from cfg's files
// starting at since, good until until.
func rememberNotDue(c *statcache.Cache, a hostApp, cfg *config.Config, r certResult, since, until time.Time) {
	if c == nil {
		return
	}
	p := provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0])
	v := []string{r.Name, strings.Join(r.Domains, " "), r.Reason, r.Serial,
		strconv.FormatInt(r.NotAfter.UnixNano(), 10), strconv.FormatInt(r.RenewAt.UnixNano(), 10)}
	c.Put(a.config, v, append([]string{a.config}, p.DecisionFiles()...), since, until)
}
