package dnsproviders

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-acme/lego/v4/challenge/dns01"
)

func TestMain(m *testing.M) {
	// lego looks up CNAMEs of _acme-challenge names through the system's
	// resolvers. Point it at a closed loopback port so that no test ever
	// sends a DNS query off this machine; tests that want answers point it
	// at their own server.
	_ = dns01.AddRecursiveNameservers([]string{"127.0.0.1:1"})(nil)
	os.Exit(m.Run())
}

func TestNamesSortedUniqueWithEscapeHatches(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() not sorted: %v", names)
	}
	if len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Names() has duplicates: %v", names)
	}
	for _, want := range []string{"exec", "httpreq", "rfc2136", "acme-dns"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %q: %v", want, names)
		}
	}
	names[0] = "changed"
	if Names()[0] == "changed" {
		t.Error("Names() returns the package's own slice")
	}
}

func TestUnknownName(t *testing.T) {
	for _, name := range []string{"nosuchdns", "", "Cloudflare", "route53"} {
		p, err := New(name)
		if p != nil {
			t.Errorf("New(%q) returned a provider", name)
		}
		if !errors.Is(err, ErrUnknown) {
			t.Fatalf("New(%q) error = %v, want ErrUnknown", name, err)
		}
		msg := err.Error()
		for _, want := range append(Names(), `"`+name+`"`, "hint:", `"exec"`, `"httpreq"`) {
			if !strings.Contains(msg, want) {
				t.Errorf("New(%q) error lacks %q:\n%s", name, want, msg)
			}
		}
	}
}

// clearEnv unsets every environment variable for the test (restored after)
// and gives it an empty HOME, so no credentials or config files leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
}

func TestEveryNameNeedsCredentials(t *testing.T) {
	clearEnv(t)
	names := slices.Concat(Names(), []string{"acmedns", "dnsupdate"})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := New(name)
			if err == nil {
				t.Fatalf("New(%q) with no environment succeeded", name)
			}
			if p != nil {
				t.Errorf("New(%q) returned a provider with its error", name)
			}
			if errors.Is(err, ErrUnknown) {
				t.Fatalf("New(%q): %v", name, err)
			}
			// lego's wording varies ("some credentials information are
			// missing: X", "OAuth token is missing", "missing
			// authentication information"); all say missing.
			if !strings.Contains(err.Error(), "missing") {
				t.Errorf("New(%q) failed for another reason than missing credentials: %v", name, err)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	t.Setenv("ACME_DNS_API_BASE", "http://127.0.0.1:1")
	t.Setenv("ACME_DNS_STORAGE_PATH", t.TempDir()+"/acme-dns.json")
	t.Setenv("RFC2136_NAMESERVER", "127.0.0.1:1")
	t.Setenv("RFC2136_ZONES", "example.test")
	for _, name := range []string{"acme-dns", "acmedns", "rfc2136", "dnsupdate"} {
		if _, err := New(name); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}

// TestLinksNoHeavySDK keeps the start-up cost bounded without timing
// anything: every package linked into myapp runs its init on every
// `myapp cert renew`, so neither lego's whole registry nor the cloud SDKs
// measured as expensive (README.md) may come in through this package.
func TestLinksNoHeavySDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/go-acme/lego/v4/providers/dns" {
			t.Errorf("links lego's whole DNS provider registry")
		}
		for _, heavy := range []string{
			"github.com/aws/",            // route53, lightsail
			"cloud.google.com/",          // gcloud
			"google.golang.org/api/",     // gcloud
			"google.golang.org/grpc",     // gcloud, many SDKs
			"github.com/Azure/",          // azure, azuredns
			"github.com/linode/linodego", // linode
		} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("links %s; see README.md before adding a provider with a heavy SDK", pkg)
			}
		}
	}
}

// TestReadsEnvCoversWhatLegoAsksFor: every variable a provider's
// missing-credentials error names is one ReadsEnv lets through (else a
// credential kept in the app's .env would never reach lego).
func TestReadsEnvCoversWhatLegoAsksFor(t *testing.T) {
	clearEnv(t)
	varRe := regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b`)
	for _, name := range slices.Concat(Names(), []string{"acmedns", "dnsupdate"}) {
		_, err := New(name)
		if err == nil {
			t.Fatalf("New(%q) with no environment succeeded", name)
		}
		vars := varRe.FindAllString(err.Error(), -1)
		for _, v := range vars {
			if !ReadsEnv(name, v) {
				t.Errorf("%s asks for %s, but ReadsEnv(%q, %q) = false", name, v, name, v)
			}
		}
	}
}

func TestReadsEnv(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		want      bool
	}{
		{"exec", "EXEC_PATH", true},
		{"exec", "EXEC_POLLING_INTERVAL", true},
		{"exec", "LEGO_DISABLE_CNAME_SUPPORT", true},
		{"cloudflare", "CF_DNS_API_TOKEN", true},
		{"cloudflare", "CLOUDFLARE_DNS_API_TOKEN_FILE", true},
		{"rfc2136", "RFC2136_TSIG_SECRET", true},
		{"dnsupdate", "DNSUPDATE_ZONES", true},
		{"exec", "CF_DNS_API_TOKEN", false},
		{"cloudflare", "SECRET_KEY", false},
		{"cloudflare", "DB_URL", false},
		{"cloudflare", "CF_", false},
		{"nope", "EXEC_PATH", false},
	} {
		if got := ReadsEnv(tc.name, tc.key); got != tc.want {
			t.Errorf("ReadsEnv(%q, %q) = %v, want %v", tc.name, tc.key, got, tc.want)
		}
	}
}
