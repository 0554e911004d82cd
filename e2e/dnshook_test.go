package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testDNSServed checks the certificate the host serves for the name and
// for a name only the wildcard covers (both through the host's nginx,
// with SNI, verified against Pebble's root), and that the site answers
// that name: over HTTPS with the frontend, over HTTP with the redirect.
// On port 80 Debian's default site takes every name no server_name
// claims, so the redirect shows nginx's server_name covers the wildcard.
// It returns the leaf.
func testDNSServed(t *testing.T, e *env) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	for _, name := range []string{domain, anyName} {
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp4", "127.0.0.1:443", &tls.Config{ServerName: name, RootCAs: e.roots})
		if err != nil {
			t.Fatalf("TLS to 127.0.0.1:443 (SNI %s), verified against Pebble's root: %v", name, err)
		}
		got := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if leaf != nil && !leaf.Equal(got) {
			t.Errorf("SNI %s gets another certificate (serial %s) than %s (serial %s)", name, serialOf(got), domain, serialOf(leaf))
		}
		leaf = got
	}
	want, err := os.ReadFile(filepath.Join(e.frontend, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, e, "GET", "https://"+anyName+"/", nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("GET https://%s/: %s %q; want 200 with index.html", anyName, resp.Status, trunc(body))
	}
	resp, body = get(t, e, "GET", "http://"+anyName+"/x?y=1", nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != 301 || loc != "https://"+anyName+"/x?y=1" {
		t.Errorf("GET http://%s/x?y=1: %s Location %q %q; want 301 to https://%s/x?y=1", anyName, resp.Status, loc, trunc(body), anyName)
	}
	return leaf
}

// assertNoTXT: the DNS-01 answers are gone from the test DNS.
func assertNoTXT(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	txt, err := e.pebble.Resolver().LookupTXT(ctx, challengeName)
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(txt) > 0:
		t.Errorf("TXT %s still holds %q after the order", challengeName, txt)
	case err != nil && !(errors.As(err, &dnsErr) && (dnsErr.IsNotFound || strings.Contains(dnsErr.Err, "lame referral"))):
		// Go reports challtestsrv's empty answer (no SOA) as a lame referral.
		t.Errorf("TXT %s: the test DNS did not answer: %v", challengeName, err)
	}
}

// assertNoChallengeRequests: nothing (no preflight probe, no CA
// validation) asked the host's nginx for an HTTP-01 challenge.
func assertNoChallengeRequests(t *testing.T, e *env) {
	t.Helper()
	log, err := os.ReadFile(e.host.Path("/var/log/nginx/access.log"))
	if err != nil {
		t.Fatalf("nginx access log: %v", err)
	}
	if len(log) == 0 {
		t.Fatalf("nginx's access log is empty: cannot tell what reached port 80")
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "/.well-known/acme-challenge/") {
			t.Errorf("nginx served an HTTP-01 path although validation is DNS-01:\n%s", line)
		}
	}
}

// hostHookCalls counts the TXT records the host's hook has presented.
func hostHookCalls(t *testing.T, e *env) int {
	t.Helper()
	b, err := os.ReadFile(e.host.Path(hostHookLog))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "present "+challengeName+" ")
}

// assertHookAnswered: since calls and authz were counted, the host's hook
// presented one TXT record for each authorization Pebble created, and
// never saw the app's SECRET_KEY or DB_URL (myapp passes on only the
// provider's variables from the .env).
func assertHookAnswered(t *testing.T, e *env, calls, authz int) {
	t.Helper()
	n, m := hostHookCalls(t, e)-calls, e.authorizations(t)-authz
	log, _ := os.ReadFile(e.host.Path(hostHookLog))
	if m == 0 || n != m {
		t.Errorf("the host's hook presented %d TXT records for %d new authorizations, want one each (and at least one):\n%s", n, m, log)
	}
	if strings.Contains(string(log), "saw the app's") {
		t.Errorf("the DNS hook on the host ran with the app's SECRET_KEY or DB_URL in its environment:\n%s", log)
	}
}

// authorizations counts the authorizations Pebble has created (it logs
// each; a reused one is not logged again).
func (e *env) authorizations(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.pebble.LogDir, "pebble.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "authorizations in the db")
}

// dnsHookScript is a program for lego's exec DNS provider ("EXEC_PATH
// present|cleanup FQDN VALUE"). Like a DNS service's API it refuses calls
// without the credential (EXEC_API_TOKEN = token); it logs accepted calls
// to logFile, and notes there when the app's own secrets reached it, and
// adds or removes the TXT record through challtestsrv's management API at
// mgmt (bash's /dev/tcp: the host has no curl).
func dnsHookScript(mgmt, logFile, token string) string {
	h, port, _ := net.SplitHostPort(mgmt)
	return fmt.Sprintf(`#!/bin/bash
set -eu
if [ -n "${SECRET_KEY:-}${DB_URL:-}" ]; then
	echo "saw the app's SECRET_KEY or DB_URL" >> %[1]q
fi
if [ "${EXEC_API_TOKEN:-}" != %[4]q ]; then
	echo "refused $1: EXEC_API_TOKEN missing or wrong" >> %[1]q
	echo "EXEC_API_TOKEN missing or wrong" >&2
	exit 1
fi
echo "$*" >> %[1]q
case "$1" in
present) path=/set-txt body="{\"host\":\"$2\",\"value\":\"$3\"}" ;;
cleanup) path=/clear-txt body="{\"host\":\"$2\"}" ;;
*) exit 0 ;;
esac
exec 3<>/dev/tcp/%[2]s/%[3]s
printf 'POST %%s HTTP/1.0\r\nHost: %[2]s\r\nContent-Type: application/json\r\nContent-Length: %%d\r\n\r\n%%s' "$path" "${#body}" "$body" >&3
IFS= read -r status <&3 || true
case "$status" in
"HTTP/1."?" 200 "*) ;;
*) echo "challtestsrv $path: $status" >&2; exit 1 ;;
esac
`, logFile, h, port, token)
}

// myappEnv is e.myapp with env ("KEY=value") added to the CLI's
// environment.
func (e *env) myappEnv(t *testing.T, ctx context.Context, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(cliEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run myapp %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("myapp %s timed out\n%s", strings.Join(args, " "), r)
	}
	return r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
