package dnsproviders

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"time"

	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/providers/dns/rfc2136"
	"github.com/miekg/dns"
)

// rfc2136Env starts a zone server for example.test and configures the
// rfc2136 provider for it through the environment, as a user would. lego
// also looks up CNAMEs of the challenge name through its recursive
// nameservers: the test points those at the same server.
func rfc2136Env(t *testing.T) *zoneServer {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	secret := base64.StdEncoding.EncodeToString(key)
	z := startZoneServer(t, "example.test", "myapp-key", secret)

	t.Setenv("RFC2136_NAMESERVER", z.addr)
	t.Setenv("RFC2136_ZONES", "example.test")
	t.Setenv("RFC2136_TSIG_KEY", "myapp-key")
	t.Setenv("RFC2136_TSIG_SECRET", secret)
	t.Setenv("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
	_ = dns01.AddRecursiveNameservers([]string{z.addr})(nil)
	t.Cleanup(func() { _ = dns01.AddRecursiveNameservers([]string{"127.0.0.1:1"})(nil) })
	return z
}

// queryTXT asks the server, over the wire, for the TXT strings at name.
func queryTXT(t *testing.T, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, dns.TypeTXT)
	r, _, err := new(dns.Client).Exchange(m, addr)
	if err != nil {
		t.Fatalf("query TXT %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, txt.Txt...)
		}
	}
	return out
}

func TestRFC2136PresentAndCleanUpReachServer(t *testing.T) {
	z := rfc2136Env(t)
	p, err := New("rfc2136")
	if err != nil {
		t.Fatal(err)
	}
	name, v := "_acme-challenge."+testDomain+".", wantValue(testKeyAuth)

	if err := p.Present(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("Present: %v", err)
	}
	if got := queryTXT(t, z.addr, name); !slices.Equal(got, []string{v}) {
		t.Errorf("after Present, TXT %s = %q, want %q", name, got, v)
	}
	if err := p.CleanUp(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	if got := queryTXT(t, z.addr, name); len(got) != 0 {
		t.Errorf("after CleanUp, TXT %s = %q, want none", name, got)
	}
	if n := z.acceptedUpdates(); n != 2 {
		t.Errorf("server accepted %d updates, want 2", n)
	}

	// lego solves challenges for one name one after the other with this
	// provider (a wildcard and its base name share the TXT name).
	if _, ok := p.(interface{ Sequential() time.Duration }); !ok {
		t.Errorf("rfc2136 provider is not sequential")
	}
}

// A CNAME at the challenge name delegates validation to another name (often
// in a zone kept only for this); lego follows it and updates the target.
func TestRFC2136FollowsCNAMEDelegation(t *testing.T) {
	z := rfc2136Env(t)
	z.add(mustRR(t, "_acme-challenge.www.example.test. 300 IN CNAME _acme-challenge.validation.example.test."))
	p, err := New("rfc2136")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present("www.example.test", testToken, testKeyAuth); err != nil {
		t.Fatalf("Present: %v", err)
	}
	target := "_acme-challenge.validation.example.test."
	if got, want := z.txt(target), []string{wantValue(testKeyAuth)}; !slices.Equal(got, want) {
		t.Errorf("TXT %s = %q, want %q", target, got, want)
	}
	if err := p.CleanUp("www.example.test", testToken, testKeyAuth); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	if got := z.txt(target); len(got) != 0 {
		t.Errorf("after CleanUp, TXT %s = %q, want none", target, got)
	}
}

func TestRFC2136WrongSecretIsRefused(t *testing.T) {
	z := rfc2136Env(t)
	t.Setenv("RFC2136_TSIG_SECRET", base64.StdEncoding.EncodeToString([]byte("not the server's secret, 32 byte")))
	p, err := New("rfc2136")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(testDomain, testToken, testKeyAuth); err == nil || !strings.Contains(err.Error(), "NOTAUTH") {
		t.Fatalf("Present with a wrong TSIG secret: error = %v, want NOTAUTH", err)
	}
	if got := z.txt("_acme-challenge." + testDomain + "."); len(got) != 0 {
		t.Errorf("TXT written despite the wrong secret: %q", got)
	}
	if n := z.acceptedUpdates(); n != 0 {
		t.Errorf("server accepted %d updates, want 0", n)
	}
}

// Without RFC2136_ZONES, lego v4.34.0 sends its updates for the root zone
// "." (go-acme/lego#3019): New refuses that up front instead of leaving it
// to fail at renewal time. This test shows both halves; when lego is
// upgraded past the fix, the second half fails and newRFC2136 can go.
func TestRFC2136NeedsZones(t *testing.T) {
	z := rfc2136Env(t)
	t.Setenv("RFC2136_ZONES", "")
	_, err := New("rfc2136")
	if err == nil || !strings.Contains(err.Error(), "RFC2136_ZONES") {
		t.Fatalf("New without zones: error = %v, want one naming RFC2136_ZONES", err)
	}

	p, err := rfc2136.NewDNSProvider()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(testDomain, testToken, testKeyAuth); err == nil || !strings.Contains(err.Error(), "NOTZONE") {
		t.Errorf("lego without zones: Present error = %v, want NOTZONE (lego#3019 fixed? then drop newRFC2136)", err)
	}
	if n := z.acceptedUpdates(); n != 0 {
		t.Errorf("server accepted %d updates, want 0", n)
	}
}
