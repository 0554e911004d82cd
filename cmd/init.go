package cmd

import (
	"context"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/myapp/myapp/config"
	"github.com/myapp/myapp/provision"
)

// InitOptions are `myapp init`'s flags.
type InitOptions struct {
	HostSelection
	DryRun         bool
	DisableCertbot bool
}

func newInitCmd(g *Globals) *cobra.Command {
	opts := &InitOptions{}
	c := &cobra.Command{
		Use:   "init [--local | --host H]... [--dry-run]",
		Short: "Provision hosts: nginx, site, certificate, .env, auth server and renewal timer",
		Long: `Provision each host from myapp.toml: install nginx when missing, render the
site, obtain a certificate (ACME HTTP-01), write the .env secrets, install the
auth server and the renewal timer as systemd units, and verify it all.
Safe to run again: a provisioned host reports every step unchanged.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runInit(c.Context(), g, opts) },
	}
	c.Flags().BoolVar(&opts.Local, "local", false, "act on this machine")
	c.Flags().StringArrayVar(&opts.Hosts, "host", nil, "a [[hosts]] name or user@address[:port] (repeatable; default: all [[hosts]])")
	c.Flags().BoolVar(&opts.DisableCertbot, "disable-certbot", false, "disable certbot lineages that renew the same names")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "change nothing; print every file diff (secrets redacted) and command")
	return c
}

// initReport is init's --output json document.
type initReport struct {
	Command string                 `json:"command"`
	DryRun  bool                   `json:"dry_run"`
	Hosts   []provision.HostResult `json:"hosts"`
}

func runInit(ctx context.Context, g *Globals, opts *InitOptions) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	refs, err := resolveHosts(cfg, opts.HostSelection)
	if err != nil {
		return err
	}
	if err := checkConfig(g, cfg); err != nil {
		return err
	}
	rep := newReporter(g)
	rep.dryRun = opts.DryRun
	if g.json() {
		rep.g = &Globals{Stderr: g.Stderr, Stdout: io.Discard, Output: "json"}
	}
	results := provisionHosts(ctx, g, cfg, refs, opts, rep)
	if g.json() {
		if err := writeJSON(g.Stdout, initReport{Command: "init", DryRun: opts.DryRun, Hosts: results}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if opts.DryRun {
				g.logf("%s: dry run, nothing changed: %d would change, %d unchanged, %d skipped, %d failed", r.Host, r.Summary.Changed, r.Summary.Unchanged, r.Summary.Skipped, r.Summary.Failed)
				continue
			}
			g.logf("%s: done: %d changed, %d unchanged, %d skipped, %d failed", r.Host, r.Summary.Changed, r.Summary.Unchanged, r.Summary.Skipped, r.Summary.Failed)
		}
	}
	return resultsError(results)
}

// provisionHosts runs init on every host: the per-host steps in parallel,
// the certificate once for all hosts that got that far (one order, the
// HTTP-01 answers and the certificate on each), then the rest in parallel.
func provisionHosts(ctx context.Context, g *Globals, cfg *config.Config, refs []hostRef, opts *InitOptions, rep *reporter) []provision.HostResult {
	plan := provision.Init()
	targets := make([]*provision.Target, len(refs))
	results := forEachHost(ctx, refs, func(ctx context.Context, ref hostRef) provision.HostResult {
		i := slices.IndexFunc(refs, func(r hostRef) bool { return r.name == ref.name })
		fail := func(step string, err error) provision.HostResult {
			r := provision.HostResult{Host: ref.name}
			r.Add(provision.StepResult{Step: step, Status: provision.Failed, Detail: err.Error()}, err)
			rep.Step(ref.name, r.Steps[0])
			return r
		}
		h, err := ref.connect(ctx)
		if err != nil {
			return fail("connect", err)
		}
		t, err := newTarget(g, cfg, h, opts.DryRun)
		if err != nil {
			h.Close()
			return fail("prepare", err)
		}
		t.DisableCertbot = opts.DisableCertbot
		if err := t.GatherFacts(ctx); err != nil {
			h.Close()
			return fail("gather facts", err)
		}
		targets[i] = t
		return provision.Apply(ctx, t, plan.Before, rep)
	})
	defer func() {
		for _, t := range targets {
			if t != nil {
				t.Host.Close()
			}
		}
	}()
	var ready []*provision.Target
	var readyIdx []int
	for i, r := range results {
		if r.OK && targets[i] != nil {
			ready, readyIdx = append(ready, targets[i]), append(readyIdx, i)
		}
	}
	if len(ready) > 0 && ctx.Err() == nil {
		r, err := provision.ApplyShared(ctx, ready, plan.Cert, rep)
		for _, i := range readyIdx {
			results[i].Add(r, err)
		}
	}
	after := forEachHost(ctx, refs, func(ctx context.Context, ref hostRef) provision.HostResult {
		i := slices.IndexFunc(refs, func(r hostRef) bool { return r.name == ref.name })
		if !results[i].OK || targets[i] == nil {
			return provision.HostResult{Host: ref.name, OK: true}
		}
		return provision.Apply(ctx, targets[i], plan.After, rep)
	})
	for i := range results {
		results[i].Merge(after[i])
		rep.flush(refs[i].name)
	}
	return results
}
