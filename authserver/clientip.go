package authserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// defaultTrustedProxies is nginx on the same host, the deployment this
// server is made for.
var defaultTrustedProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address rate limits and logs attribute a request to.
// X-Forwarded-For is believed only as far as it was written by trusted
// proxies: starting from the peer, each hop that is a trusted proxy hands
// over to the address it recorded, right to left, and the first untrusted
// address is the client. Anything an untrusted party wrote (the left part
// of the header, or the whole of it from an untrusted peer) is ignored, so
// a client cannot pose as another address to escape its rate limit.
// nginx's X-Real-IP is used when a trusted peer sent no X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !s.trusted(addr) {
		return addr
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	if len(hops) == 0 {
		if real, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
			return real.Unmap()
		}
		return addr
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break // garbage: nothing left of it can be attributed
		}
		addr = hop
		if !s.trusted(hop) {
			break
		}
	}
	return addr
}

// forwardedHops splits X-Forwarded-For headers (several are one list).
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// parseHop accepts an address, optionally with a port or IPv6 brackets.
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap(), true
		}
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// clientIP is clientAddr for logs.
func (s *Server) clientIP(r *http.Request) string {
	a := s.clientAddr(r)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	return a.String()
}

// limitKey groups an IPv6 client by its /64, the block one customer
// usually gets: per-address limits would give them 2^64 tries.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
