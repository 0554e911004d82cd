package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/host"
)

func newCertCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "cert",
		Short: "Certificate life cycle on this host: obtain, renew, status",
	}
	var force bool
	obtain := &cobra.Command{
		Use:   "obtain",
		Short: "Obtain the certificate when it is missing or does not cover every domain",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertRenew(c.Context(), g, force, true) },
	}
	obtain.Flags().BoolVar(&force, "force", false, "order a new certificate even if the installed one is fine")
	renew := &cobra.Command{
		Use:   "renew",
		Short: "Renew the certificate when it is due (what the timer runs); exit 0 when not due",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertRenew(c.Context(), g, force, false) },
	}
	renew.Flags().BoolVar(&force, "force", false, "renew even if not due")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the installed certificate: domains, issuer, expiry, next renewal",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCertStatus(c.Context(), g) },
	}
	c.AddCommand(obtain, renew, status)
	return c
}

// certResult is one certificate's line in `cert renew --output json`.
type certResult struct {
	Name     string    `json:"name"`
	Domains  []string  `json:"domains"`
	Status   string    `json:"status"` // renewed | not_due | failed
	Reason   string    `json:"reason,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Serial   string    `json:"serial,omitempty"`
}

// runCertRenew renews on this machine. obtainOnly renews only when the
// certificate is missing or does not cover the configured domains.
func runCertRenew(ctx context.Context, g *Globals, force, obtainOnly bool) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	h := host.NewLocal()
	defer h.Close()
	t, err := newTarget(g, cfg, h, false)
	if err != nil {
		return err
	}
	res := certResult{Name: cfg.Domains[0], Domains: cfg.Domains}
	report := func(err error) error {
		if err != nil {
			res.Status, res.Reason = "failed", err.Error()
		}
		if g.json() {
			if jerr := writeJSON(g.Stdout, map[string]any{"certificates": []certResult{res}}); jerr != nil {
				return jerr
			}
		} else {
			msg := res.Status
			if res.Reason != "" {
				msg += ": " + res.Reason
			}
			g.logf("%s: %s", res.Name, strings.ReplaceAll(msg, "_", " "))
		}
		if err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("renew %s: %w", res.Name, err)}
		}
		return nil
	}
	leaf, err := provision.InstalledCert(ctx, h, t.Paths)
	if err != nil {
		return report(err)
	}
	due, why := provision.RenewalDue(leaf, cfg.Domains, time.Now())
	if obtainOnly && leaf != nil && !strings.HasPrefix(why, "certificate does not cover") {
		due = false
	}
	if !due && !force {
		res.Status, res.Reason, res.NotAfter, res.Serial = "not_due", why, leaf.NotAfter.UTC(), fmt.Sprintf("%x", leaf.SerialNumber)
		return report(nil)
	}
	if t.Issuer == nil {
		return report(fmt.Errorf("acme.directory %q cannot issue certificates yet", cfg.ACME.Directory))
	}
	c, err := t.Issuer.Obtain(ctx, h, cfg.Domains)
	if err != nil {
		return report(err)
	}
	if err := provision.InstallCert(ctx, h, t.Paths, c); err != nil {
		return report(err)
	}
	if leaf, err := provision.ParseLeaf(c.Fullchain); err == nil {
		res.NotAfter, res.Serial = leaf.NotAfter.UTC(), fmt.Sprintf("%x", leaf.SerialNumber)
	}
	res.Status, res.Reason = "renewed", why
	if force && !due {
		res.Reason = "forced"
	}
	return report(nil)
}

func runCertStatus(ctx context.Context, g *Globals) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	h := host.NewLocal()
	p := provision.PathsFor(cfg.App, cfg.Domains[0])
	leaf, err := provision.InstalledCert(ctx, h, p)
	if err != nil {
		return err
	}
	type status struct {
		Name      string    `json:"name"`
		Path      string    `json:"path"`
		Installed bool      `json:"installed"`
		Domains   []string  `json:"domains,omitempty"`
		Issuer    string    `json:"issuer,omitempty"`
		NotAfter  time.Time `json:"not_after,omitzero"`
		Due       bool      `json:"due"`
		Detail    string    `json:"detail"`
	}
	due, why := provision.RenewalDue(leaf, cfg.Domains, time.Now())
	s := status{Name: cfg.Domains[0], Path: p.Fullchain, Installed: leaf != nil, Due: due, Detail: why}
	if leaf != nil {
		s.Domains, s.Issuer, s.NotAfter = leaf.DNSNames, leaf.Issuer.String(), leaf.NotAfter.UTC()
	}
	if g.json() {
		return writeJSON(g.Stdout, map[string]any{"certificates": []status{s}})
	}
	if leaf == nil {
		fmt.Fprintf(g.Stdout, "%s: no certificate at %s\n", s.Name, s.Path)
		return nil
	}
	fmt.Fprintf(g.Stdout, "%s\n  domains:  %s\n  issuer:   %s\n  expires:  %s\n  renewal:  %s\n", s.Name,
		strings.Join(s.Domains, ", "), s.Issuer, s.NotAfter.Format(time.RFC3339), why)
	return nil
}
