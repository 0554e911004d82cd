package templates

import (
	"strings"
	"testing"
)

// fieldErrors returns the Field of every FieldError in err.
func fieldErrors(err error) []string {
	var fields []string
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *FieldError:
			fields = append(fields, e.Field)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return fields
}

func TestRenderSiteRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Site)
		field string
	}{
		{"domain with semicolon", func(s *Site) { s.Domains[1] = "evil.com;include /etc/shadow" }, "Domains[1]"},
		{"domain with newline", func(s *Site) { s.Domains[0] = "shop.example.com\nlisten 8080" }, "Domains[0]"},
		{"domain with space", func(s *Site) { s.Domains[0] = "shop.example.com other.com" }, "Domains[0]"},
		{"domain with brace", func(s *Site) { s.Domains[0] = "shop{.example.com" }, "Domains[0]"},
		{"domain with quote", func(s *Site) { s.Domains[0] = `shop".example.com` }, "Domains[0]"},
		{"domain with dollar", func(s *Site) { s.Domains[0] = "$host" }, "Domains[0]"},
		{"domain uppercase", func(s *Site) { s.Domains[0] = "Shop.example.com" }, "Domains[0]"},
		{"domain trailing dot", func(s *Site) { s.Domains[0] = "shop.example.com." }, "Domains[0]"},
		{"domain label too long", func(s *Site) { s.Domains[0] = strings.Repeat("a", 64) + ".com" }, "Domains[0]"},
		{"domain twice", func(s *Site) { s.Domains[1] = s.Domains[0] }, "Domains[1]"},
		{"empty domain list", func(s *Site) { s.Domains = nil }, "Domains"},
		{"empty domain", func(s *Site) { s.Domains[0] = "" }, "Domains[0]"},
		{"app uppercase", func(s *Site) { s.App = "Shop" }, "App"},
		{"app with underscore", func(s *Site) { s.App = "my_shop" }, "App"},
		{"app leading hyphen", func(s *Site) { s.App = "-shop" }, "App"},
		{"app empty", func(s *Site) { s.App = "" }, "App"},
		{"app with slash", func(s *Site) { s.App = "../etc" }, "App"},
		{"upstream without scheme", func(s *Site) { s.APIUpstream = "127.0.0.1:8000" }, "APIUpstream"},
		{"upstream with path", func(s *Site) { s.APIUpstream = "http://127.0.0.1:8000/v1" }, "APIUpstream"},
		{"upstream with semicolon", func(s *Site) { s.APIUpstream = "http://127.0.0.1:8000;return 200" }, "APIUpstream"},
		{"upstream with query", func(s *Site) { s.APIUpstream = "http://127.0.0.1:8000?x=1" }, "APIUpstream"},
		{"upstream with credentials", func(s *Site) { s.APIUpstream = "http://u:p@127.0.0.1:8000" }, "APIUpstream"},
		{"upstream https", func(s *Site) { s.APIUpstream = "https://127.0.0.1:8000" }, "APIUpstream"},
		{"upstream bad port", func(s *Site) { s.AuthUpstream = "http://127.0.0.1:99999" }, "AuthUpstream"},
		{"upstream empty port", func(s *Site) { s.AuthUpstream = "http://127.0.0.1:" }, "AuthUpstream"},
		{"upstream empty", func(s *Site) { s.AuthUpstream = "" }, "AuthUpstream"},
		{"upstream without host", func(s *Site) { s.AuthUpstream = "http://:9000" }, "AuthUpstream"},
		{"upstream with zone", func(s *Site) { s.AuthUpstream = "http://[fe80::1%25eth0]:9000" }, "AuthUpstream"},
		{"upstream with variable", func(s *Site) { s.AuthUpstream = "http://$host:9000" }, "AuthUpstream"},
		{"root relative", func(s *Site) { s.Root = "var/www/shop/current" }, "Root"},
		{"root with dotdot", func(s *Site) { s.Root = "/var/www/../etc" }, "Root"},
		{"root with space", func(s *Site) { s.Root = "/var/www/my shop" }, "Root"},
		{"webroot with semicolon", func(s *Site) { s.Webroot = "/var/www/a;b" }, "Webroot"},
		{"cert file with brace", func(s *Site) { s.CertFile = "/etc/x}" }, "CertFile"},
		{"key file empty", func(s *Site) { s.KeyFile = "" }, "KeyFile"},
		{"nginx version missing", func(s *Site) { s.NginxVersion = "" }, "NginxVersion"},
		{"nginx version prefixed", func(s *Site) { s.NginxVersion = "nginx/1.22.1" }, "NginxVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exampleSite(true, "1.22.1")
			s.Domains = append([]string(nil), s.Domains...)
			tc.edit(&s)
			out, err := RenderSite(s)
			if err == nil {
				t.Fatalf("rendered without error:\n%s", out)
			}
			if fields := fieldErrors(err); len(fields) != 1 || fields[0] != tc.field {
				t.Errorf("error fields = %q, want [%s]; error: %v", fields, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "render nginx site: Site."+tc.field) {
				t.Errorf("error %q does not name Site.%s", err, tc.field)
			}
		})
	}
}

func TestRenderSiteAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Site)
	}{
		{"wildcard domain", func(s *Site) { s.Domains = []string{"*.shop.example.com"} }},
		{"idn domain", func(s *Site) { s.Domains = []string{"xn--bcher-kva.example"} }},
		{"single label", func(s *Site) { s.Domains = []string{"localhost"} }},
		{"upstream trailing slash", func(s *Site) { s.APIUpstream = "http://127.0.0.1:8000/" }},
		{"upstream ipv6", func(s *Site) { s.APIUpstream = "http://[::1]:8000" }},
		{"upstream name without port", func(s *Site) { s.APIUpstream = "http://api.internal" }},
		{"bootstrap ignores cert fields", func(s *Site) { s.TLS, s.CertFile, s.KeyFile, s.NginxVersion = false, "", "", "" }},
		{"two-part version", func(s *Site) { s.NginxVersion = "1.25" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exampleSite(true, "1.22.1")
			tc.edit(&s)
			if _, err := RenderSite(s); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// All mistakes are reported at once, each naming its field.
func TestRenderSiteReportsEveryField(t *testing.T) {
	s := exampleSite(true, "1.22.1")
	s.App, s.Domains, s.Root = "Bad", []string{"ok.example.com", "b d"}, "rel"
	_, err := RenderSite(s)
	got := strings.Join(fieldErrors(err), ",")
	if got != "App,Domains[1],Root" {
		t.Errorf("fields = %s, want App,Domains[1],Root; error: %v", got, err)
	}
}

func TestRenderUnitsReject(t *testing.T) {
	for _, tc := range []struct {
		name   string
		render func() ([]byte, error)
		field  string
	}{
		{"auth bad app", func() ([]byte, error) { return RenderAuthUnit(AuthUnit{App: "a b", Listen: "127.0.0.1:9000"}) }, "App"},
		{"auth listen without port", func() ([]byte, error) { return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1"}) }, "Listen"},
		{"auth listen with newline", func() ([]byte, error) {
			return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:9000\nUser=root"})
		}, "Listen"},
		{"auth listen bad port", func() ([]byte, error) { return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:09000"}) }, "Listen"},
		{"auth listen with specifier", func() ([]byte, error) { return RenderAuthUnit(AuthUnit{App: "shop", Listen: "%H:9000"}) }, "Listen"},
		{"auth binary relative", func() ([]byte, error) {
			return RenderAuthUnit(AuthUnit{App: "shop", Listen: "127.0.0.1:9000", Binary: "myapp"})
		}, "Binary"},
		{"api no command", func() ([]byte, error) { return RenderAPIUnit(APIUnit{App: "shop"}) }, "Argv"},
		{"api relative program", func() ([]byte, error) { return RenderAPIUnit(APIUnit{App: "shop", Argv: []string{"uvicorn"}}) }, "Argv[0]"},
		{"api argument with newline", func() ([]byte, error) {
			return RenderAPIUnit(APIUnit{App: "shop", Argv: []string{"/usr/bin/uvicorn", "main:app\nUser=root"}})
		}, "Argv[1]"},
		{"renew bad app", func() ([]byte, error) { return RenderRenewTimer(RenewUnit{App: "shop;"}) }, "App"},
		{"renew binary with percent", func() ([]byte, error) { return RenderRenewService(RenewUnit{App: "shop", Binary: "/opt/%n"}) }, "Binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.render()
			if err == nil {
				t.Fatalf("rendered without error:\n%s", out)
			}
			if fields := fieldErrors(err); len(fields) != 1 || fields[0] != tc.field {
				t.Errorf("error fields = %q, want [%s]; error: %v", fields, tc.field, err)
			}
		})
	}
	if _, err := RenewCronLine(RenewUnit{App: ""}); err == nil {
		t.Error("RenewCronLine accepted an empty app")
	}
}

// Command arguments can carry credentials: a refused one is named, never
// echoed.
func TestRenderAPIUnitDoesNotEchoArguments(t *testing.T) {
	_, err := RenderAPIUnit(APIUnit{App: "shop", Argv: []string{"/usr/bin/app", "--password=hunter2\n"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "Argv[1]") {
		t.Errorf("error = %v, want it to name Argv[1] without its value", err)
	}
}

func TestRenderAuthUnitListenAllAddresses(t *testing.T) {
	for _, listen := range []string{":9000", "[::1]:9000", "localhost:9000"} {
		if _, err := RenderAuthUnit(AuthUnit{App: "shop", Listen: listen}); err != nil {
			t.Errorf("Listen %q: %v", listen, err)
		}
	}
}
