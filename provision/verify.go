package provision

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// verify checks the result the way a user would: HTTPS on the host answers
// with the installed certificate for every domain, and the auth server
// answers through nginx.
type verify struct{}

func (verify) Name() string { return "verify" }

func (verify) Plan(ctx context.Context, t *Target) (*Change, error) {
	if t.DryRun {
		return &Change{Skip: fmt.Sprintf("runs after a real apply: https://%s/ and /auth/healthz on the host", t.Cfg.Domains[0])}, nil
	}
	return nil, Verify(ctx, t)
}

// Verify runs the checks; auth gets a few seconds to come up after a restart.
func Verify(ctx context.Context, t *Target) error {
	leaf, err := InstalledCert(ctx, t.Host, t.Paths)
	if err != nil || leaf == nil {
		return fmt.Errorf("no installed certificate to verify: %v", err)
	}
	client := t.httpsClient()
	defer client.CloseIdleConnections()
	for _, d := range t.Cfg.Domains {
		state, err := tlsState(ctx, t, d)
		if err != nil {
			return fmt.Errorf("https://%s/: %w", d, err)
		}
		served := state.PeerCertificates[0]
		if served.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			return fmt.Errorf("https://%s/ serves certificate serial %x, installed is %x (nginx not reloaded?)", d, served.SerialNumber, leaf.SerialNumber)
		}
		if err := served.VerifyHostname(d); err != nil {
			return fmt.Errorf("https://%s/: %w", d, err)
		}
	}
	d := t.Cfg.Domains[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, err := get(ctx, client, "https://"+d+"/auth/healthz")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", code)
			}
			return fmt.Errorf("https://%s/auth/healthz: %w (journalctl -u %s)", d, err, t.Paths.AuthUnit())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

// httpsClient connects to the host's own port 443 whatever the URL's name
// resolves to, so verification does not depend on DNS.
func (t *Target) httpsClient() *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return t.Host.Dial(ctx, "tcp", "127.0.0.1:443")
		},
		// The chain is checked against the installed certificate instead:
		// the CA may be private (ca_roots) and unknown to this machine.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func tlsState(ctx context.Context, t *Target, name string) (tls.ConnectionState, error) {
	return tlsStateOn(ctx, t.Host, name)
}

// tlsStateOn completes a TLS handshake with port 443 of h for name.
func tlsStateOn(ctx context.Context, h host.Host, name string) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := h.Dial(ctx, "tcp", "127.0.0.1:443")
	if err != nil {
		return tls.ConnectionState{}, err
	}
	conn := tls.Client(raw, &tls.Config{ServerName: name, InsecureSkipVerify: true}) //nolint:gosec // compared with the installed leaf
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.ConnectionState(), nil
}

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
