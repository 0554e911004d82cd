package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/internal/flock"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/host"
)

// CertOptions are the flags of cert obtain and renew.
type CertOptions struct {
	Hosts         []string
	Force         bool
	IgnoreBackoff bool
	LockWait      time.Duration
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
most a day) and respects a CA's Retry-After. One run per app at a time.

Runs on the host by default (what <app>-renew.timer does). With --host it runs
from this machine for apps served by several hosts: one order, installed on
every host.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runCertRenew(c.Context(), g, opts, false) },
	}
	for _, cc := range []*cobra.Command{obtain, renew} {
		cc.Flags().BoolVar(&opts.Force, "force", false, "order a new certificate even if the installed one is not due")
		cc.Flags().BoolVar(&opts.IgnoreBackoff, "ignore-backoff", false, "contact the CA even though an earlier failure says wait")
		cc.Flags().StringArrayVar(&opts.Hosts, "host", nil, "act on these hosts over SSH (all of them serve the app) instead of this machine")
		cc.Flags().DurationVar(&opts.LockWait, "lock-wait", 5*time.Minute, "how long to wait for another run on this app to finish")
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the certificate: domains, issuer, expiry, next renewal, last result",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertStatus(c.Context(), g) },
	}
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
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	targets, closeAll, err := certTargets(ctx, g, cfg, opts.Hosts)
	if err != nil {
		return err
	}
	defer closeAll()
	ro := provision.RenewOptions{Force: opts.Force, IgnoreBackoff: opts.IgnoreBackoff, Hook: true}
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
			res := provision.RenewResult{Name: cfg.Domains[0], Domains: cfg.Domains, Status: provision.StatusNotDue,
				Reason: "a certificate for every domain is installed (renewal is cert renew's job)",
				Serial: fmt.Sprintf("%x", leaf.SerialNumber), NotAfter: leaf.NotAfter.UTC()}
			return reportRenew(g, res)
		}
		ro.Force = true
	}
	return reportRenew(g, provision.Renew(ctx, targets, ro))
}

func reportRenew(g *Globals, res provision.RenewResult) error {
	if g.json() {
		if err := writeJSON(g.Stdout, map[string]any{"certificates": []provision.RenewResult{res}}); err != nil {
			return err
		}
	} else {
		msg := strings.ReplaceAll(res.Status, "_", " ")
		if res.Reason != "" {
			msg += ": " + res.Reason
		}
		if res.Status == provision.StatusRenewed {
			msg += fmt.Sprintf(" (serial %s, expires %s)", res.Serial, res.NotAfter.Format(time.RFC3339))
		}
		g.logf("%s: %s", res.Name, msg)
		if res.HookError != "" {
			g.logf("%s: %s", res.Name, res.HookError)
		}
	}
	if res.Err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: %w", res.Name, errors.Join(res.Err))}
	}
	return nil
}

// certStatus is one certificate in `cert status`.
type certStatus struct {
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
}

func runCertStatus(ctx context.Context, g *Globals) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	h := host.NewLocal()
	defer h.Close()
	p := provision.PathsFor(cfg.App, cfg.Domains[0])
	leaf, err := provision.InstalledCert(ctx, h, p)
	if err != nil {
		return err
	}
	st := provision.LoadCertState(ctx, h, p)
	d := provision.DecideLeaf(leaf, cfg.Domains, st, time.Now())
	s := certStatus{Name: cfg.Domains[0], Path: p.Fullchain, Installed: leaf != nil, Due: d.Due, Detail: d.Reason,
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
	if g.json() {
		return writeJSON(g.Stdout, map[string]any{"certificates": []certStatus{s}})
	}
	if leaf == nil {
		fmt.Fprintf(g.Stdout, "%s: no certificate at %s\n", s.Name, s.Path)
		return nil
	}
	fmt.Fprintf(g.Stdout, "%s\n  domains:       %s\n  issuer:        %s\n  serial:        %s\n  expires:       %s\n  next renewal:  %s\n  decision:      %s\n",
		s.Name, strings.Join(s.Domains, ", "), s.Issuer, s.Serial, s.NotAfter.Format(time.RFC3339), s.NextRenewal.Format(time.RFC3339), s.Detail)
	if len(s.ARIWindow) == 2 {
		fmt.Fprintf(g.Stdout, "  CA window:     %s to %s\n", s.ARIWindow[0], s.ARIWindow[1])
	}
	if s.LastResult != "" {
		fmt.Fprintf(g.Stdout, "  last result:   %s at %s", s.LastResult, s.LastAttempt.Format(time.RFC3339))
		if s.LastError != "" {
			fmt.Fprintf(g.Stdout, ": %s", s.LastError)
		}
		fmt.Fprintln(g.Stdout)
	}
	if !s.NextAttempt.IsZero() {
		fmt.Fprintf(g.Stdout, "  backing off:   next attempt after %s\n", s.NextAttempt.Format(time.RFC3339))
	}
	return nil
}
