package templates

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// exampleSite is the site DESIGN.md describes, as init would render it.
func exampleSite(tls bool, nginxVersion string) Site {
	return Site{
		App:          "shop",
		Domains:      []string{"shop.example.com", "www.shop.example.com"},
		Root:         "/var/www/shop/current",
		Webroot:      "/var/www/shop/acme",
		APIUpstream:  "http://127.0.0.1:8000",
		AuthUpstream: "http://127.0.0.1:9000",
		TLS:          tls,
		CertFile:     "/etc/myapp/shop/certs/shop.example.com/fullchain.pem",
		KeyFile:      "/etc/myapp/shop/certs/shop.example.com/privkey.pem",
		NginxVersion: nginxVersion,
	}
}

func TestRenderSite(t *testing.T) {
	for _, tc := range []struct {
		name string
		site Site
	}{
		{"bootstrap", exampleSite(false, "")},
		{"tls-nginx-1.22", exampleSite(true, "1.22.1")},
		{"tls-nginx-1.26", exampleSite(true, "1.26.3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderSite(tc.site)
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, got)
			checkSiteInvariants(t, tc.site, got)
		})
	}
}

// checkSiteInvariants states the requirements of DESIGN.md and FACTS.md
// directly, so a golden file accepted by mistake still fails here.
func checkSiteInvariants(t *testing.T, s Site, conf []byte) {
	t.Helper()
	text := commentRe.ReplaceAllString(string(conf), "") // comments may name what is banned
	for _, banned := range []string{"ssl_stapling", "default_server", "TLSv1.1", "includeSubDomains"} {
		if strings.Contains(text, banned) {
			t.Errorf("site contains %q", banned)
		}
	}
	mustContain := []string{
		"listen 80;", "listen [::]:80;", "server_tokens off;",
		"proxy_pass http://127.0.0.1:8000/;", "proxy_pass http://127.0.0.1:9000/;",
		"location ^~ /api/ {", "location ^~ /auth/ {", "location ^~ /.well-known/acme-challenge/ {",
		"try_files $uri $uri/ /index.html", "try_files $uri =404;",
		"proxy_set_header X-Real-IP $remote_addr;", "proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header Host $host;",
		"server_name shop.example.com www.shop.example.com;",
	}
	if s.TLS {
		mustContain = append(mustContain, "listen [::]:443 ssl", "return 301 https://$host$request_uri;",
			"ssl_protocols TLSv1.2 TLSv1.3;", "ssl_session_tickets off;")
		if strings.HasPrefix(s.NginxVersion, "1.22") == strings.Contains(text, "http2 on;") {
			t.Errorf("nginx %s: wrong HTTP/2 spelling", s.NginxVersion)
		}
	} else if strings.Contains(text, "443") || strings.Contains(text, "Strict-Transport-Security") {
		t.Errorf("bootstrap site mentions TLS")
	}
	for _, want := range mustContain {
		if !strings.Contains(text, want) {
			t.Errorf("site lacks %q", want)
		}
	}
	// FACTS.md: a block with its own add_header loses the inherited ones,
	// so in TLS mode every such block must repeat HSTS.
	if s.TLS {
		for _, b := range blocksWithAddHeader(conf) {
			if !strings.Contains(b, "Strict-Transport-Security") {
				t.Errorf("block with add_header but no HSTS:\n%s", b)
			}
		}
	}
}

var (
	quotedRe  = regexp.MustCompile(`"[^"]*"`)
	commentRe = regexp.MustCompile(`(?m)#.*$`)
)

// blocksWithAddHeader returns, for every {...} block that directly contains
// an add_header, the directives at its own level (nested blocks excluded).
func blocksWithAddHeader(conf []byte) []string {
	var out []string
	var stack []*bytes.Buffer
	for _, line := range strings.Split(string(conf), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		// Braces inside a quoted regex are not blocks.
		line = quotedRe.ReplaceAllString(line, `""`)
		switch {
		case strings.HasSuffix(strings.TrimSpace(line), "{"):
			stack = append(stack, &bytes.Buffer{})
		case strings.TrimSpace(line) == "}":
			top := stack[len(stack)-1].String()
			stack = stack[:len(stack)-1]
			if strings.Contains(top, "add_header") {
				out = append(out, top)
			}
		case len(stack) > 0:
			stack[len(stack)-1].WriteString(line + "\n")
		}
	}
	return out
}
