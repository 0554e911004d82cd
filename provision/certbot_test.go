package provision

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

func TestCertbotClash(t *testing.T) {
	h := newFakeHost(t)
	_, chain, _ := selfSigned(t, []string{"shop.example.com"}, time.Now(), time.Now().Add(time.Hour))
	_, other, _ := selfSigned(t, []string{"blog.example.org"}, time.Now(), time.Now().Add(time.Hour))
	put := func(p string, d []byte) { _ = h.WriteFile(context.Background(), host.FileSpec{Path: p, Data: d}) }
	put("/etc/letsencrypt/renewal/shop.conf", []byte("version = 2.1.0\ncert = /etc/letsencrypt/live/shop/cert.pem\n"))
	put("/etc/letsencrypt/live/shop/cert.pem", chain)
	put("/etc/letsencrypt/renewal/blog.conf", []byte("cert = /etc/letsencrypt/live/blog/cert.pem\n"))
	put("/etc/letsencrypt/live/blog/cert.pem", other)
	h.run = func(argv []string) (string, error, bool) {
		if argv[0] == "sh" {
			return "/etc/letsencrypt/renewal/blog.conf\n/etc/letsencrypt/renewal/shop.conf\n", nil, true
		}
		return "", nil, argv[0] == "mv"
	}
	tg := testTarget(t, h, "", nil)
	c, err := certbotStep{}.Plan(context.Background(), tg)
	if err != nil || c == nil || !strings.Contains(c.Skip, "shop.conf") || strings.Contains(c.Skip, "blog.conf") || !strings.Contains(c.Skip, "--disable-certbot") {
		t.Fatalf("warning: %+v %v", c, err)
	}
	tg.DisableCertbot = true
	c, err = certbotStep{}.Plan(context.Background(), tg)
	if err != nil || c == nil || len(c.Cmds) != 1 || strings.Join(c.Cmds[0].Argv, " ") != "mv -f /etc/letsencrypt/renewal/shop.conf /etc/letsencrypt/renewal/shop.conf.disabled-by-myapp" {
		t.Fatalf("disable: %+v %v", c, err)
	}
}
