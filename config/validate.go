package config

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/myapp/myapp/internal/capped"
	"golang.org/x/crypto/ssh"
)

var (
	appRe      = capped.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`, 40)
	labelRe    = capped.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`, 63)
	envKeyRe   = capped.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`, math.MaxInt)
	hostNameRe = capped.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`, 63)
	userRe     = capped.MustCompile(`^[a-z_][a-z0-9_.-]*$`, 32)
	emailRe    = capped.MustCompile(`^[^\s@<>()\[\];:,"\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`, math.MaxInt)
	profileRe  = capped.MustCompile(`^[a-z0-9][a-z0-9_-]*$`, 64)
)

// KnownDirectories maps the short names of acme.directory to URLs.
var KnownDirectories = map[string]string{
	"letsencrypt":         "https://acme-v02.api.letsencrypt.org/directory",
	"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}

func (c *Config) validate() error {
	bad := func(key, format string, args ...any) error { return c.Errorf(key, format, args...) }
	if !appRe.MatchString(c.App) {
		return bad("app", "%q is not a valid app name: use 1-40 of a-z, 0-9 and '-' (it names paths, units and the nginx site)", c.App)
	}
	if len(c.Domains) == 0 {
		return bad("domains", "at least one domain is required")
	}
	if len(c.Domains) > 100 {
		return bad("domains", "%d names: a certificate holds at most 100", len(c.Domains))
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		if err := ValidateDomain(d, c.ACME.DNSProvider != ""); err != nil {
			return bad(fmt.Sprintf("domains[%d]", i), "%q: %v", d, err)
		}
		if i == 0 && strings.HasPrefix(d, "*.") {
			e := c.Errorf("domains[0]", "%q: the first domain cannot be a wildcard (it names the certificate and is the name the site is checked with)", d)
			e.Hint = fmt.Sprintf("put a plain name first, e.g. domains = [%q, %q]", d[2:], d)
			return e
		}
		if seen[d] {
			return bad(fmt.Sprintf("domains[%d]", i), "%q is listed twice", d)
		}
		seen[d] = true
	}
	if e := c.ACME.Email; e != "" && !emailRe.MatchString(e) {
		return bad("acme.email", "%q is not a valid email address", e)
	}
	if err := validateDirectory(c.ACME.Directory); err != nil {
		return bad("acme.directory", "%v", err)
	}
	if p := c.ACME.Profile; p != "" && !profileRe.MatchString(p) {
		return bad("acme.profile", "%q is not a valid profile name", p)
	}
	switch c.ACME.KeyType {
	case "ec256", "ec384", "rsa2048", "rsa4096":
	default:
		return bad("acme.key_type", "%q: use ec256, ec384, rsa2048 or rsa4096", c.ACME.KeyType)
	}
	if hasControl(c.ACME.DeployHook) {
		return bad("acme.deploy_hook", "must be one line")
	}
	if hasControl(c.ACME.CARoots) || hasControl(c.ACME.EABKid) || hasControl(c.ACME.EABHMAC) {
		return bad("acme", "values must not contain control characters")
	}
	if (c.ACME.EABKid == "") != (c.ACME.EABHMAC == "") {
		return bad("acme.eab_kid", "eab_kid and eab_hmac go together")
	}
	if hasControl(c.Frontend.Dir) {
		return bad("frontend.dir", "must not contain control characters")
	}
	if err := ValidateUpstream(c.API.Upstream); err != nil {
		return bad("api.upstream", "%q: %v", c.API.Upstream, err)
	}
	if hasControl(c.API.Command) {
		return bad("api.command", "must be one line")
	}
	if err := ValidateListen(c.Auth.Listen); err != nil {
		return bad("auth.listen", "%q: %v", c.Auth.Listen, err)
	}
	if hasControl(c.Auth.DBURL) {
		return bad("auth.db_url", "must not contain control characters")
	}
	for _, k := range []struct{ key, val string }{{"auth.access_ttl", c.Auth.AccessTTL}, {"auth.refresh_ttl", c.Auth.RefreshTTL}} {
		d, err := time.ParseDuration(k.val)
		if err != nil || d <= 0 {
			return bad(k.key, "%q is not a positive duration like \"15m\" or \"720h\"", k.val)
		}
	}
	for k, v := range c.Env {
		if !envKeyRe.MatchString(k) {
			return bad("env."+k, "not a valid environment variable name")
		}
		if strings.ContainsAny(v, "\n\r\x00") {
			return bad("env."+k, "value must be one line")
		}
	}
	names := map[string]bool{}
	for i, h := range c.Hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		if !hostNameRe.MatchString(h.Name) {
			return bad(key+".name", "%q is not a valid host name (letters, digits, '.', '_', '-')", h.Name)
		}
		if names[h.Name] {
			return bad(key+".name", "%q is listed twice", h.Name)
		}
		names[h.Name] = true
		if _, _, err := SplitAddress(h.Address); err != nil {
			return bad(key+".address", "%q: %v", h.Address, err)
		}
		if !userRe.MatchString(h.User) {
			return bad(key+".user", "%q is not a valid user name", h.User)
		}
		if hasControl(h.IdentityFile) || hasControl(h.KnownHosts) || hasControl(h.HostKey) {
			return bad(key, "values must not contain control characters")
		}
		if h.HostKey != "" {
			if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(h.HostKey)); err != nil || len(rest) > 0 {
				return bad(key+".host_key", "not a public key line like \"ssh-ed25519 AAAA...\" (as in known_hosts, without the host name)")
			}
		}
	}
	return nil
}

// ValidateDomain accepts lower-case DNS names (a leading "*." only when
// wildcards are possible, i.e. with DNS-01). Anything else could break out of
// an nginx directive or a certificate request.
func ValidateDomain(d string, wildcardOK bool) error {
	name := d
	if strings.HasPrefix(name, "*.") {
		if !wildcardOK {
			return fmt.Errorf("wildcard names need DNS-01 (set acme.dns_provider)")
		}
		name = name[2:]
	}
	if name == "" || len(name) > 253 {
		return fmt.Errorf("not a valid domain name")
	}
	if name != strings.ToLower(name) {
		return fmt.Errorf("use lower case")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("not a fully qualified domain name")
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("not a valid domain name (letters, digits, '-' and '.' only)")
		}
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("IP addresses cannot be used")
	}
	return nil
}

// ValidateUpstream accepts http://host[:port]: a local backend, proxied
// with its prefix stripped (a path or https would need more nginx settings).
func ValidateUpstream(s string) error {
	if hasControl(s) || strings.ContainsAny(s, " ;{}'\"$\\") {
		return fmt.Errorf("contains characters not allowed in a URL here")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("want http://host:port, like http://127.0.0.1:8000")
	}
	return nil
}

// ValidateListen accepts host:port.
func ValidateListen(s string) error {
	h, p, err := net.SplitHostPort(s)
	if err != nil || hasControl(s) || strings.ContainsAny(h, " ;{}'\"$") {
		return fmt.Errorf("want host:port like 127.0.0.1:9000")
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be 1-65535")
	}
	return nil
}

// SplitAddress parses "host[:port]" with port 22 by default.
func SplitAddress(addr string) (host string, port int, err error) {
	if addr == "" || hasControl(addr) || strings.ContainsAny(addr, " ;'\"$/\\@") {
		return "", 0, fmt.Errorf("want host[:port]")
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		h, p = strings.Trim(addr, "[]"), "22"
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || h == "" {
		return "", 0, fmt.Errorf("want host[:port]")
	}
	return h, n, nil
}

func validateDirectory(d string) error {
	if d == "local" {
		return nil
	}
	if _, ok := KnownDirectories[d]; ok {
		return nil
	}
	u, err := url.Parse(d)
	if err != nil || u.Scheme != "https" || u.Host == "" || hasControl(d) {
		return fmt.Errorf("%q: use letsencrypt, letsencrypt-staging, local, or an https:// ACME directory URL", d)
	}
	return nil
}

// DirectoryURL is acme.directory as a URL ("" for the local CA).
func (c *Config) DirectoryURL() string {
	if u, ok := KnownDirectories[c.ACME.Directory]; ok {
		return u
	}
	if c.ACME.Directory == "local" {
		return ""
	}
	return c.ACME.Directory
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// Errorf is a configuration error about key ("acme.dns_provider",
// "domains[1]"): at its line and column in the file, or naming the
// MYAPP_* variable when the value came from the environment.
func (c *Config) Errorf(key, format string, args ...any) *Error {
	if v, ok := c.fromEnv[strings.SplitN(key, "[", 2)[0]]; ok {
		return &Error{File: "environment", Key: v + " (" + key + ")", Msg: fmt.Sprintf(format, args...)}
	}
	line, col := c.locate(key)
	return &Error{File: c.Path, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// locate finds the line and column of key ("acme.email", "domains[1]") in
// the raw file, for error messages. It understands [section] headers and
// plain "key =" lines, which is what myapp.toml files are made of.
func (c *Config) locate(key string) (line, col int) {
	section, name := "", key
	if i := strings.LastIndex(key, "."); i >= 0 {
		section, name = key[:i], key[i+1:]
	}
	if i := strings.Index(name, "["); i >= 0 {
		name = name[:i]
	}
	if i := strings.Index(section, "["); i >= 0 { // hosts[2].name -> [[hosts]]
		section = section[:i]
	}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(c.raw))
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(t, "[") {
			cur = strings.Trim(t, "[] ")
			if i := strings.Index(cur, "]"); i >= 0 {
				cur = cur[:i]
			}
			continue
		}
		if cur != section {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == name {
			return n, strings.Index(sc.Text(), strings.TrimSpace(k)) + 1
		}
	}
	return 0, 0
}
