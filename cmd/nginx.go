package cmd

import (
	"github.com/spf13/cobra"

	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/templates"
)

func newNginxCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "nginx", Short: "nginx site configuration"}
	var bootstrap bool
	var version string
	render := &cobra.Command{
		Use:   "render",
		Short: "Print the site config that init would install",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			p := provision.PathsFor(cfg.App, cfg.Domains[0])
			out, err := templates.RenderSite(templates.Site{
				App: cfg.App, Domains: cfg.Domains, Root: p.Current, Webroot: p.Webroot,
				APIUpstream: cfg.API.Upstream, AuthUpstream: "http://" + cfg.Auth.Listen,
				TLS: !bootstrap, CertFile: p.Fullchain, KeyFile: p.Privkey, NginxVersion: version,
			})
			if err != nil {
				return err
			}
			_, err = g.Stdout.Write(out)
			return err
		},
	}
	render.Flags().BoolVar(&bootstrap, "bootstrap", false, "the HTTP-only site used before a certificate exists")
	render.Flags().StringVar(&version, "nginx-version", "1.22.1", "render for this nginx version (http2 syntax changed in 1.25.1)")
	c.AddCommand(render)
	return c
}
