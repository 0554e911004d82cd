package provision

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/myapp/myapp/provision/host"
)

// certbotStep finds certbot lineages that renew the app's names too: two
// renewers for one name waste rate limits, and certbot's deploy hooks may
// reload nginx with its own files. It warns, and with --disable-certbot it
// disables those lineages (certbot reads only *.conf in renewal/).
type certbotStep struct{}

func (certbotStep) Name() string { return "certbot" }

const certbotRenewal = "/etc/letsencrypt/renewal"

func (certbotStep) Plan(ctx context.Context, t *Target) (*Change, error) {
	out, err := t.Host.Run(ctx, host.Cmd{Argv: []string{"sh", "-c", `for f in "$1"/*.conf; do [ -f "$f" ] && echo "$f"; done; true`, "sh", certbotRenewal}})
	if err != nil {
		return nil, err
	}
	var clash []string
	for _, conf := range strings.Fields(string(out)) {
		names, err := certbotNames(ctx, t.Host, conf)
		if err != nil {
			continue // an unreadable lineage is certbot's problem, not ours
		}
		for _, d := range t.Cfg.Domains {
			if slices.Contains(names, d) {
				clash = append(clash, conf)
				break
			}
		}
	}
	if len(clash) == 0 {
		return nil, nil
	}
	if !t.DisableCertbot {
		return &Change{Skip: fmt.Sprintf("warning: certbot also renews these names (%s)\nhint: run init with --disable-certbot to disable those lineages, or remove them with certbot delete",
			strings.Join(clash, ", "))}, nil
	}
	c := &Change{Detail: "disabled " + strings.Join(clash, ", ")}
	for _, conf := range clash {
		c.Cmds = append(c.Cmds, host.Cmd{Argv: []string{"mv", "-f", conf, conf + ".disabled-by-myapp"}})
	}
	return c, nil
}

// certbotNames reads a renewal conf's certificate and returns its names.
func certbotNames(ctx context.Context, h host.Host, conf string) ([]string, error) {
	data, err := h.ReadFile(ctx, conf)
	if err != nil {
		return nil, err
	}
	certPath := ""
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "cert" {
			certPath = strings.TrimSpace(v)
		}
	}
	if certPath == "" || !path.IsAbs(certPath) {
		return nil, fmt.Errorf("%s: no cert path", conf)
	}
	pemData, err := h.ReadFile(ctx, certPath)
	if err != nil {
		return nil, err
	}
	leaf, err := ParseLeaf(pemData)
	if err != nil {
		return nil, err
	}
	return leaf.DNSNames, nil
}
