package testenv

import (
	"fmt"
	"strings"
)

// AppConfig is the myapp.toml that points myapp at a booted Machine and a
// running Pebble.
type AppConfig struct {
	App         string
	Domains     []string
	Email       string
	Directory   string // ACME directory URL, or "local"
	CARoots     string // PEM to trust for the ACME server; "" leaves ca_roots out
	FrontendDir string
	HostName    string
	Address     string
	User        string
	Identity    string
	KnownHosts  string
	// Extra is raw TOML placed on line 3, right after domains (top level).
	Extra string
	// ACMEExtra is raw TOML placed at the end of the [acme] table
	// (profile, deploy_hook, ...).
	ACMEExtra string
}

// NewAppConfig is the usual config for app "shop" on m with p.
func NewAppConfig(m *Machine, p *Pebble, frontendDir string) AppConfig {
	return AppConfig{
		App:         "shop",
		Domains:     []string{"shop.test", "www.shop.test"},
		Email:       "ops@example.com",
		Directory:   p.DirectoryURL,
		CARoots:     p.CAFile,
		FrontendDir: frontendDir,
		HostName:    "web1",
		Address:     m.Addr,
		User:        m.User,
		Identity:    m.IdentityFile,
		KnownHosts:  m.KnownHostsFile,
	}
}

// TOML renders the config.
func (c AppConfig) TOML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "app = %s\n", TOMLString(c.App))
	quoted := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		quoted[i] = TOMLString(d)
	}
	fmt.Fprintf(&b, "domains = [%s]\n", strings.Join(quoted, ", "))
	if c.Extra != "" {
		b.WriteString(c.Extra + "\n")
	}
	fmt.Fprintf(&b, "\n[acme]\nemail = %s\ndirectory = %s\n", TOMLString(c.Email), TOMLString(c.Directory))
	if c.CARoots != "" {
		fmt.Fprintf(&b, "ca_roots = %s\n", TOMLString(c.CARoots))
	}
	if c.ACMEExtra != "" {
		b.WriteString(c.ACMEExtra + "\n")
	}
	fmt.Fprintf(&b, "\n[frontend]\ndir = %s\n", TOMLString(c.FrontendDir))
	fmt.Fprintf(&b, "\n[[hosts]]\nname = %s\naddress = %s\nuser = %s\nidentity_file = %s\nknown_hosts = %s\n",
		TOMLString(c.HostName), TOMLString(c.Address), TOMLString(c.User),
		TOMLString(c.Identity), TOMLString(c.KnownHosts))
	return b.String()
}

// TOMLString quotes s as a TOML basic string.
func TOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
