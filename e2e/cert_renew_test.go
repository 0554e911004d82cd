package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// load is a client requesting https://shop.test/ from 127.0.0.1:443 every
// 50 ms, each time on a new connection (a new TLS handshake, which is what
// a certificate swap or a reload could break), until stopped.
type load struct {
	stop chan struct{}
	done chan struct{}

	// Filled in by the client; read after done is closed.
	n        int
	failures []string
	serials  []string // served serial of each successful request, in order
}

func startLoad(e *env, want []byte) *load {
	l := &load{stop: make(chan struct{}), done: make(chan struct{})}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "tcp4", "127.0.0.1:443") // nowhere else
			},
			TLSClientConfig:   &tls.Config{RootCAs: e.roots, ServerName: domain},
			DisableKeepAlives: true,
			ForceAttemptHTTP2: true,
		},
	}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			l.n++
			at := time.Now().Format("15:04:05.000")
			resp, err := client.Get("https://" + domain + "/")
			if err != nil {
				l.failures = append(l.failures, at+" "+err.Error())
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				l.failures = append(l.failures, at+" read body: "+err.Error())
			case resp.StatusCode != 200 || string(body) != string(want):
				l.failures = append(l.failures, fmt.Sprintf("%s %s %q", at, resp.Status, trunc(body)))
			default:
				l.serials = append(l.serials, serialOf(resp.TLS.PeerCertificates[0]))
			}
		}
	}()
	return l
}

func (l *load) end() {
	close(l.stop)
	<-l.done
}

// testRenewUnderLoad: a forced renewal while a client requests the site
// every 50 ms: no request fails, and afterwards the new serial is served.
// The deploy hook ran once with the renewed names.
func testRenewUnderLoad(t *testing.T, e *env) {
	ctx := context.Background()
	want, err := os.ReadFile(filepath.Join(e.frontend, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	old := servedSerial(t, e)
	l := startLoad(e, want)
	time.Sleep(time.Second)
	r, c := e.renew(t, ctx, nil, "--force")
	time.Sleep(2 * time.Second)
	l.end()
	t.Logf("%s", r)
	t.Logf("%d requests, %d failed; served serials in order: %s", l.n, len(l.failures), runs(l.serials))

	if r.code != 0 || c.Status != "renewed" || c.Serial == "" || c.Serial == old {
		t.Fatalf("cert renew --force: exit %d status %q serial %q (old %s); want 0, renewed, a new serial\n%s", r.code, c.Status, c.Serial, old, r)
	}
	if len(l.failures) > 0 {
		t.Errorf("%d of %d requests failed during the renewal:\n  %s", len(l.failures), l.n, strings.Join(l.failures, "\n  "))
	}
	if l.n < 40 {
		t.Errorf("only %d requests were made: the client did not run throughout", l.n)
	}
	if len(l.serials) == 0 || l.serials[0] != old || l.serials[len(l.serials)-1] != c.Serial {
		t.Errorf("served serials %s: want the old %s first and the new %s last", runs(l.serials), old, c.Serial)
	}
	if got := servedSerial(t, e); got != c.Serial {
		t.Errorf("served serial %s after the renewal, want %s", got, c.Serial)
	}
	hook, err := os.ReadFile(e.host.Path(hookLog))
	if err != nil || string(hook) != domain+" "+domain2+"\n" || c.HookError != "" {
		t.Errorf("deploy_hook: %s has %q (%v), hook_error %q; want one line %q", hookLog, hook, err, c.HookError, domain+" "+domain2)
	}
}

// runs compresses a sequence like a a a b b into "a×3 b×2".
func runs(s []string) string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		out = append(out, fmt.Sprintf("%s×%d", s[i], j-i))
		i = j
	}
	return strings.Join(out, " ")
}

// testConcurrentRenew: two cert renew --force started together on the
// host: one waits for the other's lock, then sees the new certificate.
// Exactly one order reaches Pebble; both exit 0.
func testConcurrentRenew(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	orders := e.orders(t)
	old := servedSerial(t, e)
	const script = `cd /root
/usr/local/bin/myapp cert renew --force --output json >e2e-renew-1.out 2>e2e-renew-1.err & a=$!
/usr/local/bin/myapp cert renew --force --output json >e2e-renew-2.out 2>e2e-renew-2.err & b=$!
wait $a; echo $?; wait $b; echo $?`
	x, err := e.host.Exec(ctx, nil, "sh", "-c", script)
	if err != nil || x.Code != 0 {
		t.Fatalf("two renewals at once: %v %+v", err, x)
	}
	codes := strings.Fields(x.Stdout)
	var got []renewedCert
	for i := range 2 {
		out, _ := os.ReadFile(e.host.Path(fmt.Sprintf("/root/e2e-renew-%d.out", i+1)))
		errOut, _ := os.ReadFile(e.host.Path(fmt.Sprintf("/root/e2e-renew-%d.err", i+1)))
		r := result{args: []string{"cert", "renew", "--force", "--output", "json"}, stdout: string(out), stderr: string(errOut)}
		if len(codes) == 2 {
			fmt.Sscan(codes[i], &r.code)
		}
		t.Logf("run %d:\n%s", i+1, r)
		if len(codes) != 2 || codes[i] != "0" {
			t.Errorf("run %d exited %v, want 0", i+1, codes)
		}
		got = append(got, parseRenew(t, r))
	}
	renewed, waited := got[0], got[1]
	if renewed.Status != "renewed" {
		renewed, waited = waited, renewed
	}
	if renewed.Status != "renewed" || waited.Status != "not_due" || !strings.Contains(waited.Reason, "concurrent") {
		t.Errorf("statuses %q (%s) and %q (%s); want one renewed and one not_due renewed by a concurrent run",
			got[0].Status, got[0].Reason, got[1].Status, got[1].Reason)
	}
	if n := e.orders(t) - orders; n != 1 {
		t.Errorf("%d orders reached Pebble, want exactly 1", n)
	}
	if s := servedSerial(t, e); s == old || s != renewed.Serial || waited.Serial != renewed.Serial {
		t.Errorf("served serial %s; renewed %s, the waiting run reports %s (old %s)", s, renewed.Serial, waited.Serial, old)
	}
}
