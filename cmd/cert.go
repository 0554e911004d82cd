package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/internal/flock"
	"github.com/myapp/myapp/internal/statcache"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/host"
)

// CertOptions are the flags of cert obtain and renew.
type CertOptions struct {
	Hosts         []string
	Force         bool
	IgnoreBackoff bool
	LockWait      time.Duration
	All           bool // every app configured on this host
}

func newCertCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "cert",
		Short: "Certificate life cycle: obtain, renew, status",
	}
	opts := &CertOptions{}
	obtain := &cobra.Command{
		Use:   "obtain",
		Short: "Obtain the certificate when it is missing or does not cover every domain",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertRenew(c.Context(), g, opts, true) },
	}
	renew := &cobra.Command{
		Use:   "renew",
		Short: "Renew the certificate when it is due (what the timer runs); exit 0 when not due",
		Long: `Renew the certificate when it is due. With nothing due it decides from local
files alone (the certificate, the CA's stored renewal window, the backoff), so
it is cheap to run often. After a failure it backs off (30 min, doubling, at
most a day) and respects a CA's Retry-After. One renewal per app at a time: a
run with work to do waits for the app's lock (--lock-wait).

Runs on the host by default (what <app>-renew.timer does). With --host it runs
from this machine for apps served by several hosts: one order, installed on
every host.

With --all it handles every app configured on this host
(/etc/myapp/<app>/myapp.toml) in one run, like ` + "`certbot renew`" + ` does for
its lineages: one line (or JSON entry) per certificate; exit 0 when each was
renewed or not due, 3 when some failed, 1 when all did (2 when each failure is
a config mistake). A broken config is reported with its file and does not
stop the other apps. Apps are decided in parallel and renewed one at a time;
a not-due answer is remembered in /var/lib/myapp/acme/renew-cache while the
app's files are unchanged.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runCertRenew(c.Context(), g, opts, false) },
	}
	renew.Flags().BoolVar(&opts.All, "all", false, "renew every app configured on this host (/etc/myapp/*/myapp.toml)")
	for _, cc := range []*cobra.Command{obtain, renew} {
		cc.Flags().BoolVar(&opts.Force, "force", false, "order a new certificate even if the installed one is not due")
		cc.Flags().BoolVar(&opts.IgnoreBackoff, "ignore-backoff", false, "contact the CA even though an earlier failure says wait")
		cc.Flags().StringArrayVar(&opts.Hosts, "host", nil, "act on these hosts over SSH (all of them serve the app) instead of this machine")
		cc.Flags().DurationVar(&opts.LockWait, "lock-wait", 5*time.Minute, "how long to wait for another run on this app to finish")
	}
	var statusAll bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the certificate: domains, issuer, expiry, next renewal, last result",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertStatus(c.Context(), g, statusAll) },
	}
	status.Flags().BoolVar(&statusAll, "all", false, "show every app configured on this host (/etc/myapp/*/myapp.toml)")
	c.AddCommand(obtain, renew, status)
	return c
}

// certTargets connects to the hosts serving the app: this machine, or
// every --host.
func certTargets(ctx context.Context, g *Globals, cfg *config.Config, hostsFlag []string) ([]*provision.Target, func(), error) {
	var refs []hostRef
	if len(hostsFlag) == 0 {
		refs = []hostRef{{name: "local", local: true}}
	} else {
		var err error
		if refs, err = resolveHosts(cfg, HostSelection{Hosts: hostsFlag}); err != nil {
			return nil, nil, err
		}
	}
	var targets []*provision.Target
	closeAll := func() {
		for _, t := range targets {
			t.Host.Close()
		}
	}
	for _, ref := range refs {
		h, err := ref.connect(ctx)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		t, err := newTarget(g, cfg, h, false)
		if err != nil {
			h.Close()
			closeAll()
			return nil, nil, err
		}
		targets = append(targets, t)
	}
	return targets, closeAll, nil
}

func runCertRenew(ctx context.Context, g *Globals, opts *CertOptions, obtainOnly bool) error {
	if opts.All {
		if g.configSet || len(opts.Hosts) > 0 {
			return usageErrorf("--all handles every app configured on this host: it cannot be combined with --config or --host")
		}
		return runCertRenewAll(ctx, g, opts)
	}
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	res, _, ok := notDue(ctx, cfg, opts, obtainOnly, time.Now())
	if ok && needsIssuerCheck(cfg) {
		if err := checkIssuer(g, cfg); err != nil {
			res = certResult{App: cfg.App, Config: cfg.Path, RenewResult: provision.RenewResult{Name: cfg.Domains[0],
				Domains: cfg.Domains, Status: provision.StatusFailed, Reason: err.Error(), Err: err}}
		}
	}
	if !ok {
		if res, err = renewApp(ctx, g, cfg, opts, obtainOnly); err != nil {
			return err
		}
	}
	return reportRenew(g, []certResult{res})
}

// notDue answers a renewal with nothing to do from this machine's files
// alone (provision.NotDue), before anything else is prepared: no hosts,
// issuer or DNS credentials, no lock. ok is false when renew has work to
// do, or must ask the CA: renewApp then does it all, under the lock.
func notDue(ctx context.Context, cfg *config.Config, opts *CertOptions, obtainOnly bool, now time.Time) (res certResult, until time.Time, ok bool) {
	if opts.Force || obtainOnly || len(opts.Hosts) > 0 {
		return res, until, false
	}
	p := provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0])
	r, until, ok := provision.NotDue(ctx, localHost(), p, cfg.Domains, now)
	return certResult{App: cfg.App, Config: cfg.Path, RenewResult: r}, until, ok
}

// checkIssuer checks, on a run with nothing due, what the issuer will
// read from outside myapp.toml when renewal comes: the CA roots file holds
// certificates, the EAB secret's variable is set. Reported now, it can be
// fixed before it matters. DNS provider credentials are not checked here:
// setting up some providers calls their API (namecheap looks up this
// machine's address, pdns asks for its API version), and a run with
// nothing due makes no network call; init checks them, and an order names
// what is missing.
func checkIssuer(g *Globals, cfg *config.Config) error {
	if cfg.ACME.Directory == "local" {
		return nil
	}
	_, _, err := issuerInputs(g, cfg)
	return err
}

// localHost is this machine, made once per process.
var localHost = sync.OnceValue(host.NewLocal)

// renewApp runs obtain or renew for one app; an error means nothing was
// attempted (the hosts could not be reached or the config is unusable).
func renewApp(ctx context.Context, g *Globals, cfg *config.Config, opts *CertOptions, obtainOnly bool) (certResult, error) {
	out := certResult{App: cfg.App, Config: cfg.Path}
	targets, closeAll, err := certTargets(ctx, g, cfg, opts.Hosts)
	if err != nil {
		return out, err
	}
	defer closeAll()
	ro := provision.RenewOptions{Force: opts.Force, IgnoreBackoff: opts.IgnoreBackoff, Hook: true, Warn: g.Stderr}
	if len(opts.Hosts) == 0 {
		lockPath := targets[0].Paths.ACMEState + "/locks/" + cfg.App + ".lock"
		ro.Lock = func(ctx context.Context) (func(), error) {
			unlock, err := flock.Lock(ctx, lockPath, 0)
			if errors.Is(err, flock.ErrTimeout) {
				g.logf("%s: another cert run is in progress; waiting up to %s", cfg.Domains[0], opts.LockWait)
				unlock, err = flock.Lock(ctx, lockPath, opts.LockWait)
			}
			return unlock, err
		}
	}
	if obtainOnly && !opts.Force {
		leaf, err := provision.InstalledCert(ctx, targets[0].Host, targets[0].Paths)
		if err == nil && leaf != nil && provision.Covers(leaf, cfg.Domains) {
			out.RenewResult = provision.RenewResult{Name: cfg.Domains[0], Domains: cfg.Domains, Status: provision.StatusNotDue,
				Reason: "a certificate for every domain is installed (renewal is cert renew's job)",
				Serial: fmt.Sprintf("%x", leaf.SerialNumber), NotAfter: leaf.NotAfter.UTC()}
			return out, nil
		}
		ro.Force = true
	}
	out.RenewResult = provision.Renew(ctx, targets, ro)
	return out, nil
}

// hostRoot prefixes the host paths /etc/myapp, /var/lib/myapp, ... that
// --all works on. Tests point it at a temporary directory; it is "" in
// production.
var hostRoot = ""

// hostApp is one entry of /etc/myapp: its directory name and config file.
type hostApp struct{ name, config string }

// hostApps lists the apps configured on this host: every
// /etc/myapp/<app>/myapp.toml, sorted by name. The local CA's directory,
// hidden entries and anything that is not a directory are skipped; a
// directory without a myapp.toml is skipped when its config is read.
func hostApps() ([]hostApp, error) {
	dir := hostRoot + "/etc/myapp"
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var apps []hostApp
	for _, e := range ents {
		n := e.Name()
		if n == localCADir || strings.HasPrefix(n, ".") || (!e.IsDir() && e.Type()&fs.ModeSymlink == 0) ||
			strings.ContainsFunc(n, unicode.IsControl) { // never an app (init names them), and would forge output lines
			continue
		}
		apps = append(apps, hostApp{name: n, config: dir + "/" + n + "/myapp.toml"})
	}
	return apps, nil
}

// localCADir is /etc/myapp/local-ca, the local issuer's CA, not an app.
const localCADir = "local-ca"

// errNotApp marks an /etc/myapp entry without a myapp.toml.
var errNotApp = errors.New("not an app directory")

// loadHostApp loads an app's installed config. The app must live in the
// directory named after it: that is where its certificates are.
func loadHostApp(g *Globals, a hostApp) (*config.Config, error) {
	raw, err := config.ReadFile(a.config)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, errNotApp
	case err != nil:
		return nil, err
	}
	cfg, err := config.Parse(a.config, raw, g.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.App != a.name {
		ce := cfg.Errorf("app", "%q, but the file is in %s/", cfg.App, path.Dir(a.config))
		ce.Hint = "init installs each app's config as /etc/myapp/<app>/myapp.toml; move it there or fix app"
		return nil, ce
	}
	return cfg, nil
}

// runCertRenewAll renews every app of this host in one process. The
// apps with nothing to do are told apart first, all CPUs reading and
// parsing their files at once (or finding them unchanged since an earlier
// run); the others are then renewed one at a time, each under its lock.
// Results come in the order of the apps.
func runCertRenewAll(ctx context.Context, g *Globals, opts *CertOptions) error {
	apps, err := hostApps()
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	cache := openRenewCache(g, opts)
	decided := make([]appDecision, len(apps))
	parallel(len(apps), func(i int) { decided[i] = decideApp(ctx, g, opts, cache, apps[i]) })
	var results []certResult
	for i, a := range apps {
		if ctx.Err() != nil {
			break
		}
		d := decided[i]
		if errors.Is(d.err, errNotApp) {
			continue
		}
		res, err := d.res, d.err
		if d.remembered && g.Verbose {
			g.logf("%s: config, certificate, key and renewal state unchanged since an earlier run: its answer stands", res.Name)
		}
		switch {
		case err != nil || d.remembered:
		case d.notDue:
			if needsIssuerCheck(d.cfg) {
				if err = checkIssuer(g, d.cfg); err == nil && rememberable(d.cfg) {
					rememberNotDue(cache, a, res, d.stamps, d.since, d.until)
				}
			}
		default:
			// Each app's DNS provider variables come from its own .env
			// (dnsProviderEnv sets them in this process): the next app
			// must neither see nor use them.
			restore := snapshotEnv()
			res, err = renewApp(ctx, g, d.cfg, opts, false)
			restore()
		}
		if err != nil {
			res = failedApp(a, d.cfg, err)
		}
		if !g.json() {
			logRenew(g, res)
		}
		results = append(results, res)
	}
	if cache != nil {
		if err := cache.Save(); err != nil && g.Verbose {
			g.logf("note: %v (the next run decides from the files again)", err)
		}
	}
	if len(results) == 0 && !g.json() {
		g.logf("no apps configured under %s/etc/myapp: nothing to renew", hostRoot)
	}
	return renewOutcome(g, results, ctx.Err())
}

// appDecision is what --all knows about an app before renewing any.
type appDecision struct {
	cfg        *config.Config
	res        certResult
	notDue     bool // res is the answer: nothing to do
	remembered bool // ... found unchanged since an earlier run
	err        error

	// For an answer to remember once the issuer is checked.
	stamps statcache.Stamps
	since  time.Time
	until  time.Time
}

// decideApp loads a's config and answers it when nothing is due. It only
// reads: apps are decided concurrently.
func decideApp(ctx context.Context, g *Globals, opts *CertOptions, cache *statcache.Cache, a hostApp) appDecision {
	now := time.Now()
	if res, ok := cachedNotDue(cache, a, now); ok {
		return appDecision{res: res, notDue: true, remembered: true}
	}
	var stamps statcache.Stamps
	if cache != nil {
		stamps = statcache.Stamp(a.config)
	}
	cfg, err := loadHostApp(g, a)
	if err != nil {
		return appDecision{cfg: cfg, err: err}
	}
	if cache != nil {
		stamps = append(stamps, decisionStamps(cfg)...)
	}
	res, until, ok := notDue(ctx, cfg, opts, false, now)
	if ok && !needsIssuerCheck(cfg) {
		rememberNotDue(cache, a, res, stamps, now, until)
	}
	return appDecision{cfg: cfg, res: res, notDue: ok, stamps: stamps, since: now, until: until}
}

// parallel runs f(0) ... f(n-1) on as many goroutines as there are CPUs
// to run them, and returns when all are done.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// snapshotEnv records the process environment and returns the function
// that puts it back as it was.
func snapshotEnv() (restore func()) {
	saved := os.Environ()
	return func() {
		os.Clearenv()
		for _, kv := range saved {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
}

// failedApp is the result of an app that could not be attempted.
func failedApp(a hostApp, cfg *config.Config, err error) certResult {
	r := certResult{App: a.name, Config: a.config,
		RenewResult: provision.RenewResult{Name: a.name, Domains: []string{}, Status: provision.StatusFailed, Reason: err.Error(), Err: err}}
	if cfg != nil {
		r.Name, r.Domains = cfg.Domains[0], cfg.Domains
	}
	return r
}

// certResult is one certificate in `cert renew`: its app and config file,
// then the outcome.
type certResult struct {
	App    string `json:"app"`
	Config string `json:"config"`
	provision.RenewResult
}

func reportRenew(g *Globals, results []certResult) error {
	if !g.json() {
		for _, r := range results {
			logRenew(g, r)
		}
	}
	return renewOutcome(g, results, nil)
}

// logRenew prints one certificate's outcome.
func logRenew(g *Globals, res certResult) {
	label := strings.ReplaceAll(res.Status, "_", " ")
	msg := label
	if res.Reason != "" {
		msg += ": " + strings.TrimPrefix(res.Reason, label+": ")
	}
	if res.Status == provision.StatusRenewed {
		msg += fmt.Sprintf(" (serial %s, expires %s)", res.Serial, res.NotAfter.Format(time.RFC3339))
	}
	if res.Status == provision.StatusFailed && isConfigErr(res.Err) {
		msg = label + ": " + res.Reason // names the file already
	}
	g.logf("%s: %s", res.Name, msg)
	if res.HookError != "" {
		g.logf("%s: %s", res.Name, res.HookError)
	}
}

// renewOutcome prints the JSON summary and maps the results to the exit
// code: 0 when every certificate was renewed or not due, 1 when all
// failed, 3 when some did (2 when each failure is a config mistake).
func renewOutcome(g *Globals, results []certResult, interrupted error) error {
	if g.json() {
		if results == nil {
			results = []certResult{}
		}
		if err := writeJSON(g.Stdout, map[string]any{"certificates": results}); err != nil {
			return err
		}
	}
	if interrupted != nil {
		return &exitError{code: exitFailure, err: interrupted}
	}
	errs := make([]error, len(results))
	for i, r := range results {
		if r.Err != nil {
			errs[i] = r.Err
			if !isConfigErr(r.Err) {
				errs[i] = fmt.Errorf("%s: %w", r.Name, r.Err)
			}
		}
	}
	return outcomeError("certificates", errs)
}

// certStatus is one certificate in `cert status`.
type certStatus struct {
	App         string    `json:"app"`
	Config      string    `json:"config"`
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Installed   bool      `json:"installed"`
	Domains     []string  `json:"domains,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Due         bool      `json:"due"`
	NextRenewal time.Time `json:"next_renewal,omitzero"`
	Detail      string    `json:"detail"`
	ARIWindow   []string  `json:"ari_window,omitempty"`
	LastResult  string    `json:"last_result,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Error       string    `json:"error,omitempty"` // the app's config or certificate could not be read
}

func runCertStatus(ctx context.Context, g *Globals, all bool) error {
	h := host.NewLocal()
	defer h.Close()
	if !all {
		cfg, err := g.LoadConfig()
		if err != nil {
			return err
		}
		s, err := statusOf(ctx, h, cfg)
		if err != nil {
			return err
		}
		return reportStatus(g, []certStatus{s}, []error{nil})
	}
	if g.configSet {
		return usageErrorf("--all shows every app configured on this host: it cannot be combined with --config")
	}
	apps, err := hostApps()
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	var list []certStatus
	var errs []error
	for _, a := range apps {
		cfg, err := loadHostApp(g, a)
		if errors.Is(err, errNotApp) {
			continue
		}
		var s certStatus
		if err == nil {
			s, err = statusOf(ctx, h, cfg)
		}
		if err != nil {
			s = certStatus{App: a.name, Config: a.config, Name: a.name, Error: err.Error()}
			if cfg != nil {
				s.Name = cfg.Domains[0]
			}
		}
		list, errs = append(list, s), append(errs, err)
	}
	if len(list) == 0 && !g.json() {
		g.logf("no apps configured under %s/etc/myapp", hostRoot)
	}
	return reportStatus(g, list, errs)
}

// statusOf reads the certificate of cfg's app on h and its renewal state.
func statusOf(ctx context.Context, h host.Host, cfg *config.Config) (certStatus, error) {
	p := provision.PathsUnder(hostRoot, cfg.App, cfg.Domains[0])
	leaf, err := provision.InstalledCert(ctx, h, p)
	if err != nil {
		return certStatus{}, err
	}
	st := provision.LoadCertState(ctx, h, p)
	d := provision.DecideLeaf(leaf, cfg.Domains, st, time.Now())
	if leaf != nil {
		// What cert renew would find: a chain without its key (or with
		// another key) is replaced on the next run, whatever its dates.
		if _, problem, err := provision.UsableCert(ctx, h, p); err == nil && problem != "" {
			d.Due, d.RenewAt, d.Reason = true, time.Now(), problem+": the next cert renew replaces it"
		}
	}
	s := certStatus{App: cfg.App, Config: cfg.Path, Name: cfg.Domains[0], Path: p.Fullchain, Installed: leaf != nil, Due: d.Due, Detail: d.Reason,
		NextRenewal: d.RenewAt.UTC(), LastResult: st.LastResult, LastAttempt: st.LastAttempt.UTC(), LastError: st.LastError}
	if leaf != nil {
		s.Domains, s.Issuer, s.NotAfter, s.Serial = leaf.DNSNames, leaf.Issuer.String(), leaf.NotAfter.UTC(), fmt.Sprintf("%x", leaf.SerialNumber)
	}
	if !st.ARIStart.IsZero() && st.Serial == s.Serial {
		s.ARIWindow = []string{st.ARIStart.UTC().Format(time.RFC3339), st.ARIEnd.UTC().Format(time.RFC3339)}
	}
	if time.Now().Before(st.NextAttempt) {
		s.NextAttempt = st.NextAttempt.UTC()
	}
	return s, nil
}

// reportStatus prints the certificates (errs[i] non-nil: the app could
// not be read) and maps failures to the exit code.
func reportStatus(g *Globals, list []certStatus, errs []error) error {
	if g.json() {
		if list == nil {
			list = []certStatus{}
		}
		if err := writeJSON(g.Stdout, map[string]any{"certificates": list}); err != nil {
			return err
		}
		return outcomeError("apps", errs)
	}
	for i, s := range list {
		if i > 0 {
			fmt.Fprintln(g.Stdout)
		}
		writeStatus(g.Stdout, s)
	}
	return outcomeError("apps", errs)
}

func writeStatus(w io.Writer, s certStatus) {
	if s.Error != "" {
		fmt.Fprintf(w, "%s\n  error:         %s\n", s.Name, strings.ReplaceAll(s.Error, "\n", "\n                 "))
		return
	}
	if !s.Installed {
		fmt.Fprintf(w, "%s: no certificate at %s\n", s.Name, s.Path)
		writeLastResult(w, s)
		return
	}
	fmt.Fprintf(w, "%s\n  domains:       %s\n  issuer:        %s\n  serial:        %s\n  expires:       %s\n  next renewal:  %s\n  decision:      %s\n",
		s.Name, strings.Join(s.Domains, ", "), s.Issuer, s.Serial, s.NotAfter.Format(time.RFC3339), s.NextRenewal.Format(time.RFC3339), s.Detail)
	if len(s.ARIWindow) == 2 {
		fmt.Fprintf(w, "  CA window:     %s to %s\n", s.ARIWindow[0], s.ARIWindow[1])
	}
	writeLastResult(w, s)
}

// writeLastResult prints the last attempt and any backoff, continuation
// lines of a multi-line error indented under the first.
func writeLastResult(w io.Writer, s certStatus) {
	if s.LastResult != "" {
		fmt.Fprintf(w, "  last result:   %s at %s", s.LastResult, s.LastAttempt.Format(time.RFC3339))
		if s.LastError != "" {
			fmt.Fprintf(w, ": %s", strings.ReplaceAll(strings.TrimRight(s.LastError, "\n"), "\n", "\n                 "))
		}
		fmt.Fprintln(w)
	}
	if !s.NextAttempt.IsZero() {
		fmt.Fprintf(w, "  backing off:   next attempt after %s\n", s.NextAttempt.Format(time.RFC3339))
	}
}
