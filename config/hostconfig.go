package config

import (
	"bytes"
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// hostFile is what init installs as /etc/myapp/<app>/myapp.toml: everything
// the host-side commands (cert renew, auth serve) need, and nothing they must
// not have — no [[hosts]] (SSH details stay on the operator's machine) and no
// [env] (its values live in the 0600 .env).
type hostFile struct {
	App      string   `toml:"app"`
	Domains  []string `toml:"domains"`
	ACME     ACME     `toml:"acme"`
	Frontend Frontend `toml:"frontend"`
	API      API      `toml:"api"`
	Auth     Auth     `toml:"auth"`
}

// HostConfig renders the config file installed on hosts. caRootsPath replaces
// acme.ca_roots (the PEM is copied to the host); eab_hmac is dropped because
// the ACME account is registered by init and its key is kept on the host.
func (c *Config) HostConfig(caRootsPath string) ([]byte, error) {
	f := hostFile{App: c.App, Domains: c.Domains, ACME: c.ACME, Frontend: c.Frontend, API: c.API, Auth: c.Auth}
	f.ACME.CARoots = caRootsPath
	f.ACME.EABHMAC = ""
	f.ACME.EABKid = ""
	var b bytes.Buffer
	fmt.Fprintf(&b, "# installed by myapp init; edit the project's myapp.toml and re-run init instead\n")
	enc := toml.NewEncoder(&b)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("render host config: %w", err)
	}
	return b.Bytes(), nil
}
