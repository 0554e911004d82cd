package dnsproviders

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-acme/lego/v4/challenge"
	"github.com/go-acme/lego/v4/providers/dns/acmedns"
	"github.com/go-acme/lego/v4/providers/dns/bunny"
	"github.com/go-acme/lego/v4/providers/dns/cloudflare"
	"github.com/go-acme/lego/v4/providers/dns/desec"
	"github.com/go-acme/lego/v4/providers/dns/digitalocean"
	"github.com/go-acme/lego/v4/providers/dns/dnsimple"
	"github.com/go-acme/lego/v4/providers/dns/duckdns"
	"github.com/go-acme/lego/v4/providers/dns/exec"
	"github.com/go-acme/lego/v4/providers/dns/gandiv5"
	"github.com/go-acme/lego/v4/providers/dns/godaddy"
	"github.com/go-acme/lego/v4/providers/dns/hetzner"
	"github.com/go-acme/lego/v4/providers/dns/httpreq"
	"github.com/go-acme/lego/v4/providers/dns/infomaniak"
	"github.com/go-acme/lego/v4/providers/dns/inwx"
	"github.com/go-acme/lego/v4/providers/dns/ionos"
	"github.com/go-acme/lego/v4/providers/dns/namecheap"
	"github.com/go-acme/lego/v4/providers/dns/namesilo"
	"github.com/go-acme/lego/v4/providers/dns/netcup"
	"github.com/go-acme/lego/v4/providers/dns/ovh"
	"github.com/go-acme/lego/v4/providers/dns/pdns"
	"github.com/go-acme/lego/v4/providers/dns/porkbun"
	"github.com/go-acme/lego/v4/providers/dns/rfc2136"
	"github.com/go-acme/lego/v4/providers/dns/scaleway"
	"github.com/go-acme/lego/v4/providers/dns/vultr"
)

// ErrUnknown is wrapped by the error New returns for a name it does not
// support: a configuration mistake, not a runtime failure.
var ErrUnknown = errors.New("unknown DNS provider")

type provider struct {
	name    string
	aliases []string // other names lego accepts for the same provider
	// env are the prefixes of the environment variables lego reads for it
	// (its namespace and the older names it still accepts).
	env []string
	// new reads the provider's configuration from the environment. On error
	// its first result is a typed nil and must be dropped.
	new func() (challenge.Provider, error)
}

// providers is sorted by name (a test checks). It is a literal of plain
// functions so that it is laid out by the linker: this package adds no
// init work of its own to a process start.
var providers = []provider{
	{"acme-dns", []string{"acmedns"}, []string{"ACME_DNS_"}, func() (challenge.Provider, error) { return acmedns.NewDNSProvider() }},
	{"bunny", nil, []string{"BUNNY_"}, func() (challenge.Provider, error) { return bunny.NewDNSProvider() }},
	{"cloudflare", nil, []string{"CLOUDFLARE_", "CF_"}, func() (challenge.Provider, error) { return cloudflare.NewDNSProvider() }},
	{"desec", nil, []string{"DESEC_"}, func() (challenge.Provider, error) { return desec.NewDNSProvider() }},
	{"digitalocean", nil, []string{"DO_"}, func() (challenge.Provider, error) { return digitalocean.NewDNSProvider() }},
	{"dnsimple", nil, []string{"DNSIMPLE_"}, func() (challenge.Provider, error) { return dnsimple.NewDNSProvider() }},
	{"duckdns", nil, []string{"DUCKDNS_"}, func() (challenge.Provider, error) { return duckdns.NewDNSProvider() }},
	{"exec", nil, []string{"EXEC_"}, func() (challenge.Provider, error) { return exec.NewDNSProvider() }},
	{"gandiv5", nil, []string{"GANDIV5_"}, func() (challenge.Provider, error) { return gandiv5.NewDNSProvider() }},
	{"godaddy", nil, []string{"GODADDY_"}, func() (challenge.Provider, error) { return godaddy.NewDNSProvider() }},
	{"hetzner", nil, []string{"HETZNER_"}, func() (challenge.Provider, error) { return hetzner.NewDNSProvider() }},
	{"httpreq", nil, []string{"HTTPREQ_"}, func() (challenge.Provider, error) { return httpreq.NewDNSProvider() }},
	{"infomaniak", nil, []string{"INFOMANIAK_"}, func() (challenge.Provider, error) { return infomaniak.NewDNSProvider() }},
	{"inwx", nil, []string{"INWX_"}, func() (challenge.Provider, error) { return inwx.NewDNSProvider() }},
	{"ionos", nil, []string{"IONOS_"}, func() (challenge.Provider, error) { return ionos.NewDNSProvider() }},
	{"namecheap", nil, []string{"NAMECHEAP_"}, func() (challenge.Provider, error) { return namecheap.NewDNSProvider() }},
	{"namesilo", nil, []string{"NAMESILO_"}, func() (challenge.Provider, error) { return namesilo.NewDNSProvider() }},
	{"netcup", nil, []string{"NETCUP_"}, func() (challenge.Provider, error) { return netcup.NewDNSProvider() }},
	{"ovh", nil, []string{"OVH_"}, func() (challenge.Provider, error) { return ovh.NewDNSProvider() }},
	{"pdns", nil, []string{"PDNS_"}, func() (challenge.Provider, error) { return pdns.NewDNSProvider() }},
	{"porkbun", nil, []string{"PORKBUN_"}, func() (challenge.Provider, error) { return porkbun.NewDNSProvider() }},
	{"rfc2136", []string{"dnsupdate"}, []string{"RFC2136_", "DNSUPDATE_", "RFC3645_"}, newRFC2136},
	{"scaleway", nil, []string{"SCALEWAY_", "SCW_"}, func() (challenge.Provider, error) { return scaleway.NewDNSProvider() }},
	{"vultr", nil, []string{"VULTR_"}, func() (challenge.Provider, error) { return vultr.NewDNSProvider() }},
}

// New returns the lego DNS-01 provider named name (lego's names, e.g.
// "cloudflare"), configured from the environment as lego documents (e.g.
// CF_DNS_API_TOKEN). Nothing is sent over the network: a provider that
// cannot work (missing credentials) fails here, one whose credentials are
// wrong fails later, in Present.
//
// An unsupported name gives an error wrapping ErrUnknown that lists the
// supported names and hints at exec and httpreq.
func New(name string) (challenge.Provider, error) {
	p, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (supported: %s)\nhint: for any other DNS service use \"exec\" (EXEC_PATH: a program that adds and removes the TXT record) or \"httpreq\" (HTTPREQ_ENDPOINT: an HTTP endpoint that does), or \"rfc2136\" for a server that takes dynamic updates",
			ErrUnknown, name, strings.Join(Names(), ", "))
	}
	dp, err := p.new()
	if err != nil {
		// lego's messages name the missing variables, never their values.
		return nil, fmt.Errorf("configure DNS provider %s from the environment: %w", p.name, err)
	}
	return dp, nil
}

// Names returns the names New accepts, sorted (lego's aliases, such as
// "acmedns" for "acme-dns", are accepted too but not listed).
func Names() []string {
	names := make([]string, len(providers))
	for i, p := range providers {
		names[i] = p.name
	}
	return names
}

// newRFC2136 insists on a zone list. lego v4.34.0 reads an unset
// DNSUPDATE_ZONES as one empty zone and then addresses every update to the
// root zone ".", which a server refuses (NOTZONE) only at renewal time
// (go-acme/lego#3019, fixed after v4.34.0; TestRFC2136 shows it).
func newRFC2136() (challenge.Provider, error) {
	p, err := rfc2136.NewDNSProvider()
	if err != nil {
		return nil, err
	}
	if os.Getenv("RFC2136_ZONES") == "" && os.Getenv("DNSUPDATE_ZONES") == "" {
		return nil, errors.New("rfc2136: RFC2136_ZONES is missing: set it to the zone(s) the server takes updates for, comma-separated (e.g. example.com)")
	}
	return p, nil
}

// Supported reports whether New knows name (a name or an alias); it reads
// no environment, so a configuration check can use it before any
// credentials are at hand.
func Supported(name string) bool {
	_, ok := lookup(name)
	return ok
}

// ReadsEnv reports whether the provider name (a name or an alias) may
// read the environment variable key: one in its lego namespace (e.g.
// CF_DNS_API_TOKEN for cloudflare, EXEC_PATH for exec, with lego's _FILE
// variants) or one of lego's own LEGO_* switches. It lets a caller take
// such variables from a .env file without exporting the file's other
// secrets into the process.
func ReadsEnv(name, key string) bool {
	p, ok := lookup(name)
	if !ok {
		return false
	}
	if strings.HasPrefix(key, "LEGO_") {
		return true
	}
	for _, pre := range p.env {
		if strings.HasPrefix(key, pre) && len(key) > len(pre) {
			return true
		}
	}
	return false
}

func lookup(name string) (provider, bool) {
	for _, p := range providers {
		if p.name == name {
			return p, true
		}
		for _, a := range p.aliases {
			if a == name {
				return p, true
			}
		}
	}
	return provider{}, false
}
