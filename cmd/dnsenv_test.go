package cmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myapp/myapp/config"
)

// unsetenv unsets key for the test and restores it afterwards.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

func dnsProject(t *testing.T, dotenv string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	toml := "app = \"shop\"\ndomains = [\"shop.example.com\", \"*.shop.example.com\"]\n[acme]\nemail = \"ops@example.com\"\ndns_provider = \"exec\"\n"
	if err := os.WriteFile(filepath.Join(dir, "myapp.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "myapp.toml"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDNSProviderEnvFromDotenv: the provider's variables missing from the
// process environment come from the .env beside the config (on a host, the
// app's .env the renewal timer reads); the process environment wins, and
// the file's other secrets stay out of the environment.
func TestDNSProviderEnvFromDotenv(t *testing.T) {
	for _, k := range []string{"EXEC_PATH", "EXEC_MODE", "SECRET_KEY", "CF_DNS_API_TOKEN", "LEGO_DISABLE_CNAME_SUPPORT"} {
		unsetenv(t, k)
	}
	t.Setenv("EXEC_POLLING_INTERVAL", "5")
	hook := filepath.Join(t.TempDir(), "dns hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := dnsProject(t, "SECRET_KEY=s3cret\nexport EXEC_PATH='"+hook+"'\nEXEC_POLLING_INTERVAL=1\nCF_DNS_API_TOKEN=tok\nLEGO_DISABLE_CNAME_SUPPORT=true\n")
	p, err := newDNSProvider(cfg)
	if err != nil || p == nil {
		t.Fatalf("newDNSProvider with EXEC_PATH in the .env: %v", err)
	}
	for k, want := range map[string]string{
		"EXEC_PATH":                  hook,
		"EXEC_POLLING_INTERVAL":      "5", // the process environment wins
		"LEGO_DISABLE_CNAME_SUPPORT": "true",
		"SECRET_KEY":                 "", // not the provider's
		"CF_DNS_API_TOKEN":           "", // another provider's
	} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestDNSProviderMissingCredentials(t *testing.T) {
	unsetenv(t, "EXEC_PATH")
	cfg := dnsProject(t, "SECRET_KEY=s3cret\n")
	_, err := newDNSProvider(cfg)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("newDNSProvider without EXEC_PATH: %v, want a *config.Error (exit 2)", err)
	}
	if ce.Key != "acme.dns_provider" || ce.Line != 5 || !strings.Contains(ce.Msg, "EXEC_PATH") || !strings.Contains(ce.Hint, filepath.Join(cfg.Dir, ".env")) {
		t.Errorf("error %+v: want key acme.dns_provider at line 5, naming EXEC_PATH, hinting at %s", ce, filepath.Join(cfg.Dir, ".env"))
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows a .env value: %v", err)
	}
}

func TestDNSProviderNoDotenv(t *testing.T) {
	t.Setenv("EXEC_PATH", "/bin/true")
	if p, err := newDNSProvider(dnsProject(t, "")); err != nil || p == nil {
		t.Fatalf("newDNSProvider with EXEC_PATH in the environment and no .env: %v", err)
	}
}
