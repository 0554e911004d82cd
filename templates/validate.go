package templates

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// checker collects every invalid field of one struct, so a user fixing a
// config sees all mistakes at once instead of one per run.
type checker struct {
	strct string
	errs  []error
}

// check records a FieldError when reason is not empty.
func (c *checker) check(field, value, reason string) {
	if reason != "" {
		c.errs = append(c.errs, &FieldError{Struct: c.strct, Field: field, Value: value, Reason: reason})
	}
}

func (c *checker) err() error { return errors.Join(c.errs...) }

var (
	appRe   = cappedRe{lazyRegexp(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`), 63}
	labelRe = cappedRe{lazyRegexp(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`), 63}
	// Paths go unquoted into nginx and systemd: this set contains nothing
	// either of them interprets (no "%" specifiers, no "$" variables, no
	// quotes, separators or whitespace).
	pathRe    = lazyRegexp(`^/[A-Za-z0-9._/+-]*$`)
	versionRe = lazyRegexp(`^([0-9]{1,4})\.([0-9]{1,4})(?:\.([0-9]{1,4}))?$`)
)

// cappedRe is a pattern of ASCII characters with a length limit. The limit
// is not written as x{0,61}: RE2 compiles that into 61 copies of x, about
// 35 µs per pattern, while x* and a length check match the same strings.
type cappedRe struct {
	re  func() *regexp.Regexp
	max int
}

func (c cappedRe) MatchString(s string) bool { return len(s) <= c.max && c.re().MatchString(s) }
func (c cappedRe) String() string            { return c.re().String() }

// lazyRegexp compiles pattern when first used, not at every start of the
// binary: a no-op cert renew renders no template.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// appReason explains why s is not a valid app name, or returns "".
// The name becomes part of paths, unit names and nginx identifiers.
func appReason(s string) string {
	if !appRe.MatchString(s) {
		return "must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
	}
	return ""
}

// domainReason checks one server name: lowercase LDH labels (IDNs in their
// xn-- form), optionally one leading "*." for a wildcard certificate.
func domainReason(s string) string {
	const bad = "not a valid domain name (lowercase letters, digits, '-' and '.'; IDNs as xn--; optional leading \"*.\")"
	name := strings.TrimPrefix(s, "*.")
	if name == "" || len(s) > 253 {
		return bad
	}
	for _, label := range strings.Split(name, ".") {
		if !labelRe.MatchString(label) {
			return bad
		}
	}
	return ""
}

// pathReason checks an absolute, clean file system path.
func pathReason(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case !pathRe().MatchString(s):
		return "must be an absolute path of letters, digits and . _ / + - only"
	case path.Clean(s) != s:
		return "must be a clean path (no '..', '//', '.' or trailing '/')"
	}
	return ""
}

// hostPortReason checks the host and port of an upstream (host required,
// port optional) or of a listen address (empty host meaning every address,
// port required): an IP literal or a DNS name, and a numeric port.
func hostPortReason(host, port string, listen bool) string {
	addr, err := netip.ParseAddr(host)
	switch {
	case host == "" && !listen:
		return "host must not be empty"
	case err == nil && addr.Zone() != "":
		return "host must not carry an IPv6 zone"
	case host != "" && err != nil && (strings.HasPrefix(host, "*.") || domainReason(host) != ""):
		return "host must be an IP address or a DNS name"
	case port == "" && !listen:
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "port must be a number from 1 to 65535"
	}
	return ""
}

// upstreamReason checks a proxy target such as "http://127.0.0.1:8000". It
// must be http://host[:port] only: the site appends "/" itself so nginx
// strips the location prefix, and a path, query or credentials would change
// that meaning. https is refused because the backends run beside nginx and
// a TLS upstream would also need SNI and verification settings.
func upstreamReason(s string) string {
	const form = "must look like http://127.0.0.1:8000 (http, host, optional port, no path)"
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || s == "" || strings.ContainsAny(s, " \t\r\n;{}\"'$\\") {
		return form
	}
	if u.Scheme != "http" || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Host == "" {
		return form
	}
	if r := hostPortReason(u.Hostname(), u.Port(), false); r != "" {
		return r
	}
	if strings.HasSuffix(u.Host, ":") {
		return form
	}
	return ""
}

// listenReason checks a host:port the auth server binds to.
func listenReason(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(s, " \t\r\n;{}\"'$\\%") {
		return "must be host:port, e.g. 127.0.0.1:9000"
	}
	return hostPortReason(host, port, true)
}

// parseVersion parses "1.22.1" (or "1.25") into comparable numbers.
func parseVersion(s string) ([3]int, bool) {
	m := versionRe().FindStringSubmatch(s)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1]) // empty patch parses as 0
	}
	return v, true
}

// versionAtLeast reports whether a >= b.
func versionAtLeast(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}
