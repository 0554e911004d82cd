package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// PreflightError lists every name and address family that cannot reach
// the webroot; no order is placed while there is one.
type PreflightError struct{ Problems []string }

func (e *PreflightError) Error() string {
	return "preflight: the CA would fail to validate:\n  " + strings.Join(e.Problems, "\n  ") +
		"\nhint: each domain's A and AAAA records must point at these hosts, port 80 must be open, and nginx must serve " +
		"/.well-known/acme-challenge/ from the app's webroot; no order was placed"
}

// Preflight checks, before an order, what an HTTP-01 validation needs:
// every domain resolves (A and/or AAAA) and, on every address it resolves
// to, http://<domain>/.well-known/acme-challenge/<probe> answers with a
// probe file just written to the webroot of every host. A failed check costs
// a few seconds; a failed order costs a rate-limit slot at the CA.
func Preflight(ctx context.Context, hosts []host.Host, webroot string, domains []string, r *net.Resolver) error {
	if r == nil {
		r = net.DefaultResolver
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	name := "myapp-preflight-" + hex.EncodeToString(tok[:8])
	want := hex.EncodeToString(tok)
	path := webroot + "/.well-known/acme-challenge/" + name
	for _, h := range hosts {
		if err := h.WriteFile(ctx, host.FileSpec{Path: path, Data: []byte(want), Mode: 0o644}); err != nil {
			return fmt.Errorf("preflight: write probe: %w", err)
		}
		defer h.Remove(context.WithoutCancel(ctx), path) //nolint:errcheck // best effort
	}
	var problems []string
	for _, d := range domains {
		if strings.HasPrefix(d, "*.") {
			problems = append(problems, d+": wildcard names cannot be validated over HTTP-01 (set acme.dns_provider)")
			continue
		}
		problems = append(problems, probeDomain(ctx, r, d, name, want)...)
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

func probeDomain(ctx context.Context, r *net.Resolver, domain, name, want string) []string {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var problems []string
	var addrs []net.IP
	for _, fam := range []struct{ network, label string }{{"ip4", "A"}, {"ip6", "AAAA"}} {
		ips, err := r.LookupIP(lctx, fam.network, domain)
		if err != nil && !noRecords(err) {
			problems = append(problems, fmt.Sprintf("%s: %s lookup failed: %v", domain, fam.label, err))
		}
		addrs = append(addrs, ips...)
	}
	if len(addrs) == 0 && len(problems) == 0 {
		return []string{fmt.Sprintf("%s: no A or AAAA record", domain)}
	}
	for _, ip := range addrs {
		if err := probeRetry(ctx, domain, ip, name, want); err != nil {
			fam := "IPv4"
			if ip.To4() == nil {
				fam = "IPv6"
			}
			problems = append(problems, fmt.Sprintf("%s (%s %s): %v", domain, fam, ip, err))
		}
	}
	return problems
}

// noRecords reports whether a lookup error only means "no such record":
// a name without AAAA is fine, a failing DNS server is not.
func noRecords(err error) bool {
	// A name known (in /etc/hosts, say) only with addresses of the other
	// family: Go's resolver filters them out and says so.
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) && strings.Contains(addrErr.Err, "no suitable address") {
		return true
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		return false
	}
	// Go reports NODATA from some servers as "lame referral".
	return dnsErr.IsNotFound || strings.Contains(dnsErr.Err, "lame referral") || strings.Contains(dnsErr.Err, "no such host")
}

// probeRetry gives a just-reloaded nginx a few seconds: a reload replaces
// workers gracefully, and the old ones may answer the first requests.
func probeRetry(ctx context.Context, domain string, ip net.IP, name, want string) error {
	var err error
	for i := 0; i < 10; i++ {
		if err = probeAddr(ctx, domain, ip, name, want); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}

// probeAddr fetches the probe from one address, as the CA would.
func probeAddr(ctx context.Context, domain string, ip net.IP, name, want string) error {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), "80"))
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+domain+"/.well-known/acme-challenge/"+name, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("port 80: %v", op.Err)
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the challenge URL answered %s, not this app's webroot", resp.Status)
	case strings.TrimSpace(string(body)) != want:
		return errors.New("the challenge URL is served by something else (another server or site answered)")
	}
	return nil
}
