package provision

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/myapp/myapp/provision/host"
	"github.com/myapp/myapp/templates"
)

// nginxSite installs the app's site: HTTP-only until a certificate exists,
// then HTTPS. A config nginx refuses is never left in place: the previous
// file is restored and the error shows nginx's message.
type nginxSite struct{ name string }

func (s nginxSite) Name() string { return s.name }

// RenderSite renders the site for t as it should be now.
func (t *Target) RenderSite(ctx context.Context) ([]byte, error) {
	tls := t.certReady
	if !tls {
		leaf, _, err := UsableCert(ctx, t.Host, t.Paths)
		if err != nil {
			return nil, err
		}
		tls = leaf != nil
	}
	return templates.RenderSite(templates.Site{
		App: t.Cfg.App, Domains: t.Cfg.Domains, Root: t.Paths.Current, Webroot: t.Paths.Webroot,
		APIUpstream: t.Cfg.API.Upstream, AuthUpstream: "http://" + t.Cfg.Auth.Listen,
		TLS: tls, CertFile: t.Paths.Fullchain, KeyFile: t.Paths.Privkey, NginxVersion: t.nginxVersion(),
	})
}

func (s nginxSite) Plan(ctx context.Context, t *Target) (*Change, error) {
	data, err := t.RenderSite(ctx)
	if err != nil {
		return nil, err
	}
	fc, err := t.planFile(ctx, host.FileSpec{Path: t.Paths.SiteAvailable, Data: data, Mode: 0o644}, false)
	if err != nil {
		return nil, err
	}
	link, err := t.Host.Stat(ctx, t.Paths.SiteEnabled)
	linked := err == nil && link.Mode&fs.ModeSymlink != 0 && link.Symlink == t.Paths.SiteAvailable
	if err != nil && !host.IsNotExist(err) {
		return nil, err
	}
	if fc == nil && linked {
		return nil, nil
	}
	c := &Change{
		Cmds:   []host.Cmd{{Argv: []string{"nginx", "-t"}}, {Argv: []string{"systemctl", "reload-or-restart", "nginx"}}},
		Detail: t.Paths.SiteAvailable,
	}
	if fc != nil {
		c.Files = []FileChange{*fc}
	}
	if !linked {
		c.Notes = []string{fmt.Sprintf("link %s -> %s", t.Paths.SiteEnabled, t.Paths.SiteAvailable)}
	}
	c.Apply = func(ctx context.Context) error { return installSite(ctx, t, fc, linked) }
	return c, nil
}

func installSite(ctx context.Context, t *Target, fc *FileChange, linked bool) error {
	h, p := t.Host, t.Paths
	if fc != nil {
		if err := h.WriteFile(ctx, fc.FileSpec); err != nil {
			return fmt.Errorf("write %s: %w", p.SiteAvailable, err)
		}
	}
	if !linked {
		if err := h.Symlink(ctx, p.SiteAvailable, p.SiteEnabled); err != nil {
			return fmt.Errorf("enable site: %w", err)
		}
	}
	if _, err := h.Run(ctx, host.Cmd{Argv: []string{"nginx", "-t"}}); err != nil {
		// Put back what was there so the next reload (by anyone) still works.
		switch {
		case fc != nil && fc.Exists:
			_ = h.WriteFile(ctx, host.FileSpec{Path: p.SiteAvailable, Data: fc.Old, Mode: fc.Mode, Owner: fc.Owner})
		case fc != nil:
			_ = h.Remove(ctx, p.SiteEnabled)
			_ = h.Remove(ctx, p.SiteAvailable)
		}
		return fmt.Errorf("nginx -t failed with the new site in place, so it was not loaded (previous site restored): %w", err)
	}
	if _, err := h.Run(ctx, host.Cmd{Argv: []string{"systemctl", "reload-or-restart", "nginx"}}); err != nil {
		return fmt.Errorf("reload nginx: %w", err)
	}
	t.siteChanged = true
	return nil
}
