package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// Renewal outcomes, as `cert renew --output json` prints them.
const (
	StatusRenewed = "renewed"
	StatusNotDue  = "not_due"
	StatusFailed  = "failed"
)

// RenewOptions tune Renew.
type RenewOptions struct {
	Force         bool // renew even when not due
	IgnoreBackoff bool // try even though an earlier failure says wait
	// Lock, when set, is taken before anything is decided: one renewal per
	// app at a time. It returns the function that releases it.
	Lock func(ctx context.Context) (unlock func(), err error)
	Now  func() time.Time
	Hook bool      // run acme.deploy_hook after a renewal
	Warn io.Writer // warnings that do not fail the run (nil: os.Stderr)
}

// RenewResult is one certificate's outcome.
type RenewResult struct {
	Name        string    `json:"name"`
	Domains     []string  `json:"domains"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	RenewAt     time.Time `json:"renew_at,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	HookError   string    `json:"hook_error,omitempty"`
	Err         error     `json:"-"`
}

// Renew runs the certificate life cycle for one app served by targets (the
// first one keeps the ACME account and the renewal state): decide locally,
// ask the CA for its renewal window only when the stored one is stale,
// respect backoff, check that every domain reaches the webroot, order once,
// install on every target (verified), and remember the outcome.
func Renew(ctx context.Context, targets []*Target, o RenewOptions) (res RenewResult) {
	t := targets[0]
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	res = RenewResult{Name: t.Cfg.Domains[0], Domains: t.Cfg.Domains}
	fail := func(err error) RenewResult {
		res.Status, res.Reason, res.Err = StatusFailed, err.Error(), err
		return res
	}
	// The chain as it was before the lock: if it changed when the lock is
	// ours, another run renewed meanwhile. Only the bytes are compared on
	// the way (the usual case: nothing changed, nothing to parse twice).
	before, _ := t.Host.ReadFile(ctx, t.Paths.Fullchain)
	if o.Lock != nil {
		unlock, err := o.Lock(ctx)
		if err != nil {
			return fail(err)
		}
		defer unlock()
	}
	leaf, chain, problem, err := usableCert(ctx, t.Host, t.Paths)
	if err != nil {
		return fail(err)
	}
	if leaf != nil && before != nil && !bytes.Equal(chain, before) {
		if old, err := ParseLeaf(before); err == nil && leaf.SerialNumber.Cmp(old.SerialNumber) != 0 {
			// Another run renewed while this one waited for the lock.
			res.Status, res.Reason = StatusNotDue, "renewed by a concurrent run"
			res.Serial, res.NotAfter = fmt.Sprintf("%x", leaf.SerialNumber), leaf.NotAfter.UTC()
			return res
		}
	}
	st := LoadCertState(ctx, t.Host, t.Paths)
	warn := o.Warn
	if warn == nil {
		warn = os.Stderr
	}
	save := func(ctx context.Context) {
		if err := st.Save(ctx, t.Host, t.Paths); err != nil {
			fmt.Fprintf(warn, "%s: warning: %v (the backoff and the CA's renewal window are not remembered)\n", res.Name, err)
		}
	}
	failAndBackOff := func(ctx context.Context, err error, retry time.Time) RenewResult {
		st.RecordFailure(now(), err, retry)
		res.NextAttempt = st.NextAttempt.UTC()
		save(ctx)
		return fail(fmt.Errorf("%w\nnext attempt after %s", err, res.NextAttempt.Format(time.RFC3339)))
	}
	info := newCertInfo(leaf)
	d := Decide(info, t.Cfg.Domains, st, now())
	if leaf == nil {
		d.Reason = problem
	}
	if d.NeedARI && !o.Force {
		if ari, ok := t.Issuer.(ariIssuer); ok {
			ri, err := ari.RenewalInfo(ctx, t.Host, leaf)
			switch {
			case errors.Is(err, acme.ErrNoARI):
				st.Serial, st.ARIUnsupp, st.ARINextPoll = info.serial, true, now().Add(7*24*time.Hour)
			case err != nil:
				fmt.Fprintf(warn, "%s: warning: %v (deciding from the certificate's lifetime)\n", res.Name, err)
			default:
				st.SetARI(info.serial, ri.Start, ri.End, ri.Explanation, ri.NextPoll)
			}
			save(ctx)
			d = Decide(info, t.Cfg.Domains, st, now())
		}
	}
	if info != nil {
		res.Serial, res.NotAfter, res.RenewAt = info.serial, info.notAfter.UTC(), d.RenewAt.UTC()
	}
	if !d.Due && !o.Force {
		res.Status, res.Reason = StatusNotDue, d.Reason
		return res
	}
	if now().Before(st.NextAttempt) && !o.IgnoreBackoff {
		res.NextAttempt = st.NextAttempt.UTC()
		return fail(fmt.Errorf("not contacting the CA before %s: the last attempt failed: %s\nhint: fix the cause, then run `myapp cert renew --force --ignore-backoff`",
			st.NextAttempt.UTC().Format(time.RFC3339), st.LastError))
	}
	if t.Issuer == nil {
		return fail(fmt.Errorf("acme.directory %q cannot issue certificates", t.Cfg.ACME.Directory))
	}
	c, err := obtainFor(ctx, targets)
	if err != nil {
		var rl *acme.RateLimitError
		var retry time.Time
		if errors.As(err, &rl) {
			retry = rl.RetryAfter
		}
		return failAndBackOff(ctx, err, retry)
	}
	// The CA has issued: whatever happens to this run now (SIGTERM, a
	// timer stopped), installing must not be cut short, or the certificate
	// would be lost and a new order spent on the next run.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), installTimeout)
	defer cancel()
	newLeaf, err := ParseLeaf(c.Fullchain)
	if err != nil {
		return failAndBackOff(ictx, err, time.Time{})
	}
	for _, tg := range targets {
		if err := InstallCert(ictx, tg.Host, tg.Paths, c, InstallOptions{VerifyServed: tg.siteIsTLS(ictx), Domain: tg.Cfg.Domains[0], Now: now()}); err != nil {
			// Backing off here too: an install that fails every time
			// (nginx refusing the site, a full disk) must not order a
			// new certificate on every run until the CA's limits refuse.
			return failAndBackOff(ictx, fmt.Errorf("%s: %w", tg.Host.Name(), err), time.Time{})
		}
	}
	ctx = ictx
	st.RecordSuccess(now(), fmt.Sprintf("%x", newLeaf.SerialNumber))
	save(ctx)
	res.Status, res.Reason = StatusRenewed, d.Reason
	if o.Force && !d.Due {
		res.Reason = "forced"
	}
	res.Serial, res.NotAfter, res.RenewAt = fmt.Sprintf("%x", newLeaf.SerialNumber), newLeaf.NotAfter.UTC(), time.Time{}
	if o.Hook && t.Cfg.ACME.DeployHook != "" {
		for _, tg := range targets {
			if err := runDeployHook(ctx, tg); err != nil {
				res.HookError = err.Error()
				res.Err = err
			}
		}
	}
	return res
}

// NotDue is the decision of a run with nothing to do, made from one read
// of the installed certificate, its key and the stored renewal state:
// without the app's lock, the issuer's configuration or the CA. ok is true
// only when the pair is usable, covers domains, is not due and the CA's
// renewal window need not be asked for; anything else (due, damaged, the
// window stale, a backoff to report) is Renew's, under the lock.
//
// The lock is not needed for this answer: every file is replaced by a
// rename, and a run holding the lock only ever installs a newer
// certificate, so what was read was the installed certificate at that
// moment. A chain and key read across a switch do not match, and fall
// through to Renew, which waits for the other run.
//
// until is when the answer may change if the files do not: the renewal
// time, or when the CA's window is to be asked for again.
func NotDue(ctx context.Context, h host.Host, p Paths, domains []string, now time.Time) (res RenewResult, until time.Time, ok bool) {
	leaf, _, _, err := usableCert(ctx, h, p)
	if err != nil || leaf == nil {
		return res, until, false
	}
	info := newCertInfo(leaf)
	d := Decide(info, domains, LoadCertState(ctx, h, p), now)
	if d.Due || d.NeedARI {
		return res, until, false
	}
	return RenewResult{Name: domains[0], Domains: domains, Status: StatusNotDue, Reason: d.Reason,
		Serial: info.serial, NotAfter: info.notAfter.UTC(), RenewAt: d.RenewAt.UTC()}, d.Until, true
}

// installTimeout bounds installing a certificate the CA has issued, which
// goes on after the run is cancelled.
const installTimeout = 2 * time.Minute

// obtainFor checks reachability (HTTP-01 issuers) and orders once for all
// targets.
func obtainFor(ctx context.Context, targets []*Target) (*acme.Certificate, error) {
	t := targets[0]
	hosts := make([]host.Host, len(targets))
	for i, tg := range targets {
		hosts[i] = tg.Host
	}
	if h, ok := t.Issuer.(http01Issuer); ok && h.UsesHTTP01() {
		if err := Preflight(ctx, hosts, t.Paths.Webroot, t.Cfg.Domains, t.Resolver); err != nil {
			return nil, err
		}
	}
	req := acme.Request{Domains: t.Cfg.Domains, Hosts: hosts}
	if leaf, _ := InstalledCert(ctx, t.Host, t.Paths); leaf != nil {
		req.Replaces = leaf
	}
	return t.Issuer.Obtain(ctx, req)
}

// siteIsTLS reports whether the installed site already serves HTTPS (else
// there is nothing to verify yet: init installs the HTTPS site next).
func (t *Target) siteIsTLS(ctx context.Context) bool {
	data, err := t.Host.ReadFile(ctx, t.Paths.SiteAvailable)
	return err == nil && strings.Contains(string(data), "ssl_certificate ")
}

// runDeployHook runs acme.deploy_hook on the host through sh, with the
// renewed names in RENEWED_DOMAINS (and certbot's RENEWED_LINEAGE).
func runDeployHook(ctx context.Context, t *Target) error {
	_, err := t.Host.Run(ctx, host.Cmd{
		Argv: []string{"sh", "-c", t.Cfg.ACME.DeployHook},
		Env:  []string{"RENEWED_DOMAINS=" + strings.Join(t.Cfg.Domains, " "), "RENEWED_LINEAGE=" + t.Paths.CertDir},
	})
	if err != nil {
		return fmt.Errorf("%s: deploy_hook: %w", t.Host.Name(), err)
	}
	return nil
}
