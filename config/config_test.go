package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `app = "shop"
domains = ["shop.example.com", "www.shop.example.com"]

[acme]
email = "ops@example.com"

[env]
DB_URL = "${DB_URL}"

[[hosts]]
name = "web1"
address = "203.0.113.10"
`

func parse(t *testing.T, text string, env map[string]string) (*Config, error) {
	t.Helper()
	return Parse("myapp.toml", []byte(text), func(k string) string { return env[k] })
}

func TestParseDefaults(t *testing.T) {
	c, err := parse(t, good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ACME.Directory != "letsencrypt" || c.ACME.KeyType != "ec256" || c.Auth.Listen != "127.0.0.1:9000" ||
		c.API.Upstream != "http://127.0.0.1:8000" || c.Hosts[0].User != "root" || c.Frontend.Dir != "build/web" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.AccessTTL().Minutes() != 15 {
		t.Fatalf("access ttl %v", c.AccessTTL())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
		line             int
	}{
		{"duplicate table", good + "\n[acme]\n", "acme", 0},
		{"unknown top key", strings.Replace(good, `app = "shop"`, "app = \"shop\"\napp_name = \"x\"", 1), "app_name: unknown key", 2},
		{"unknown section key", strings.Replace(good, `email =`, "emial =", 1), "acme.emial: unknown key", 5},
		{"semicolon domain", strings.Replace(good, `"shop.example.com",`, `"shop.example.com;evil",`, 1), "domains[0]", 2},
		{"newline domain", strings.Replace(good, `"shop.example.com",`, `"shop.example.com\nevil",`, 1), "domains[0]", 2},
		{"upper domain", strings.Replace(good, `"shop.example.com",`, `"Shop.example.com",`, 1), "lower case", 2},
		{"bad app", strings.Replace(good, `"shop"`, `"Shop App"`, 1), "app:", 1},
		{"bad email", strings.Replace(good, `ops@example.com`, `ops`, 1), "acme.email", 5},
		{"bad address", strings.Replace(good, `203.0.113.10`, `a b`, 1), "hosts[0].address", 12},
		{"bad directory", strings.Replace(good, "[acme]\n", "[acme]\ndirectory = \"http://x\"\n", 1), "acme.directory", 5},
		{"no domains", strings.Replace(good, `domains = ["shop.example.com", "www.shop.example.com"]`, `domains = []`, 1), "at least one", 2},
		{"dup domain", strings.Replace(good, `"www.shop.example.com"`, `"shop.example.com"`, 1), "twice", 2},
		{"wildcard without dns", strings.Replace(good, `"www.shop.example.com"`, `"*.shop.example.com"`, 1), "DNS-01", 2},
		// The first name names the certificate's directory and is the name
		// the site is checked with: a wildcard cannot be either.
		{"wildcard first", strings.NewReplacer(`"shop.example.com", "www.shop.example.com"`, `"*.shop.example.com", "shop.example.com"`,
			"[acme]\n", "[acme]\ndns_provider = \"exec\"\n").Replace(good),
			`domains[0]: "*.shop.example.com": the first domain cannot be a wildcard (it names the certificate and is the name the site is checked with)` + "\nhint: put a plain name first, e.g. domains = [\"shop.example.com\", \"*.shop.example.com\"]", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text, nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), "myapp.toml:") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if tc.line != 0 && ce.Line != tc.line {
				t.Fatalf("line %d, want %d (%v)", ce.Line, tc.line, err)
			}
		})
	}
}

func TestEnvOverride(t *testing.T) {
	c, err := parse(t, good, map[string]string{
		"MYAPP_ACME_EMAIL": "ci@example.com", "MYAPP_DOMAINS": "a.example.com, b.example.com", "MYAPP_AUTH_LISTEN": "127.0.0.1:9100",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ACME.Email != "ci@example.com" || len(c.Domains) != 2 || c.Domains[1] != "b.example.com" || c.Auth.Listen != "127.0.0.1:9100" {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if _, err := parse(t, good, map[string]string{"MYAPP_DOMAINS": "bad;name.com"}); err == nil {
		t.Fatal("an override must be validated too")
	}
}

func TestExpand(t *testing.T) {
	out, missing := Expand("mysql://u:${PW}@h/${DB}", func(k string) string { return map[string]string{"PW": "s3"}[k] })
	if out != "mysql://u:s3@h/" || len(missing) != 1 || missing[0] != "DB" {
		t.Fatalf("got %q %v", out, missing)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), os.Getenv)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("got %v", err)
	}
}

func TestHostConfigRoundTrip(t *testing.T) {
	c, err := parse(t, good+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.HostConfig("/etc/myapp/shop/ca-roots.pem")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hosts") || strings.Contains(string(b), "DB_URL") {
		t.Fatalf("host config leaks hosts or env:\n%s", b)
	}
	c2, err := Parse("/etc/myapp/shop/myapp.toml", b, nil)
	if err != nil {
		t.Fatalf("host config does not load: %v\n%s", err, b)
	}
	if c2.App != "shop" || c2.ACME.CARoots != "/etc/myapp/shop/ca-roots.pem" {
		t.Fatalf("round trip lost values: %+v", c2)
	}
}

// TestLoadRefusesHugeAndNamesReadErrors: a file far larger than any
// myapp.toml is refused before it is read whole; a directory given as the
// config is named once, with the reason.
func TestLoadRefusesHugeAndNamesReadErrors(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.toml")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(huge, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != huge || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("Load(huge) = %v", err)
	}
	_, err = Load(dir, nil)
	if !errors.As(err, &ce) || err.Error() != dir+": is a directory" {
		t.Errorf("Load(a directory) = %q", err)
	}
	_, err = Load(filepath.Join(dir, "nope.toml"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "config file not found") {
		t.Errorf("Load(missing) = %v", err)
	}
}
