package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/acme"
	"github.com/myapp/myapp/provision/host"
)

// ctxHost is a fakeHost that, like a real one, refuses to act once its
// context is done.
type ctxHost struct{ *fakeHost }

func (h ctxHost) Run(ctx context.Context, c host.Cmd) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return h.fakeHost.Run(ctx, c)
}

func (h ctxHost) WriteFile(ctx context.Context, s host.FileSpec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return h.fakeHost.WriteFile(ctx, s)
}

// issueThen is an issuer that issues a certificate, then runs after (to
// cancel the run, say) before returning it.
type issueThen struct {
	t     *testing.T
	after func()
	n     int
}

func (*issueThen) Describe(d []string) string { return "obtain " + strings.Join(d, ",") }
func (is *issueThen) Obtain(_ context.Context, req acme.Request) (*acme.Certificate, error) {
	is.n++
	_, chain, key := selfSigned(is.t, req.Domains, time.Now(), time.Now().Add(90*24*time.Hour))
	if is.after != nil {
		is.after()
	}
	return &acme.Certificate{Fullchain: chain, Key: key}, nil
}

func renewTarget(t *testing.T, run func(argv []string) (string, error, bool)) (*Target, *fakeHost) {
	fh := newFakeHost(t)
	fh.run = run
	tg := testTarget(t, ctxHost{fh}, "", nil)
	return tg, fh
}

// TestRenewInstallsWhatWasIssuedDespiteCancel: a run cancelled (SIGTERM)
// after the CA issued still installs the certificate and records it: the
// order is not wasted.
func TestRenewInstallsWhatWasIssuedDespiteCancel(t *testing.T) {
	tg, fh := renewTarget(t, func(argv []string) (string, error, bool) {
		return "", nil, argv[0] == "nginx" || argv[0] == "systemctl" || argv[0] == "ls"
	})
	ctx, cancel := context.WithCancel(t.Context())
	is := &issueThen{t: t, after: cancel}
	tg.Issuer = is
	res := Renew(ctx, []*Target{tg}, RenewOptions{Force: true, Warn: &strings.Builder{}})
	if res.Status != StatusRenewed || res.Err != nil {
		t.Fatalf("renew cancelled after issuance: %s %s %v", res.Status, res.Reason, res.Err)
	}
	installed := 0
	for p := range fh.files {
		if strings.HasPrefix(p, tg.Paths.CertArchive+"/") && strings.HasSuffix(p, "/fullchain.pem") {
			installed++
		}
	}
	if installed != 1 || fh.links[tg.Paths.CertDir] == "" {
		t.Fatalf("certificate not installed: %d chains in the archive, link %q", installed, fh.links[tg.Paths.CertDir])
	}
	if st := LoadCertState(t.Context(), fh, tg.Paths); st.LastResult != "renewed" {
		t.Errorf("state after the renewal: %+v", st)
	}
}

// TestRenewBacksOffWhenInstallFails: an install that fails (nginx refusing
// the new pair) records a failure and the next run does not order again.
func TestRenewBacksOffWhenInstallFails(t *testing.T) {
	tg, _ := renewTarget(t, func(argv []string) (string, error, bool) {
		if argv[0] == "nginx" {
			return "", &host.ExitError{Argv: argv, Code: 1, Stderr: "nginx: [emerg] cannot load certificate"}, true
		}
		return "", nil, argv[0] == "systemctl" || argv[0] == "ls" || argv[0] == "mv" || argv[0] == "rm"
	})
	is := &issueThen{t: t}
	tg.Issuer = is
	res := Renew(t.Context(), []*Target{tg}, RenewOptions{Force: true, Warn: &strings.Builder{}})
	if res.Status != StatusFailed || res.NextAttempt.IsZero() || !strings.Contains(res.Reason, "next attempt after") {
		t.Fatalf("failed install: %s %q next %v", res.Status, res.Reason, res.NextAttempt)
	}
	res = Renew(t.Context(), []*Target{tg}, RenewOptions{Force: true, Warn: &strings.Builder{}})
	if is.n != 1 || res.Status != StatusFailed || !strings.Contains(res.Reason, "not contacting the CA before") {
		t.Fatalf("second run: %d orders, %s %q", is.n, res.Status, res.Reason)
	}
}

// TestRenewWarnsWhenStateCannotBeSaved: a state file that cannot be
// written is said, not silently dropped.
func TestRenewWarnsWhenStateCannotBeSaved(t *testing.T) {
	tg, _ := renewTarget(t, func(argv []string) (string, error, bool) { return "", nil, true })
	tg.Host = failingWrites{tg.Host.(ctxHost), tg.Paths.statePath()}
	tg.Issuer = &issueThen{t: t}
	var warn strings.Builder
	Renew(t.Context(), []*Target{tg}, RenewOptions{Force: true, Warn: &warn})
	if !strings.Contains(warn.String(), "warning: save certificate state") || !strings.Contains(warn.String(), "not remembered") {
		t.Fatalf("warnings: %q", warn.String())
	}
}

type failingWrites struct {
	ctxHost
	path string
}

func (h failingWrites) WriteFile(ctx context.Context, s host.FileSpec) error {
	if s.Path == h.path {
		return errors.New("read-only file system")
	}
	return h.ctxHost.WriteFile(ctx, s)
}

// TestNotDue: the lock-free answer is given only for a usable, covering,
// not-due certificate whose renewal window is known; everything else is
// left to Renew.
func TestNotDue(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	day := 24 * time.Hour
	doms := []string{"a.example.com"}
	p := PathsFor("shop", doms[0])
	leaf, chain, key := selfSigned(t, doms, now.Add(-day), now.Add(89*day))
	_, _, otherKey := selfSigned(t, doms, now.Add(-day), now.Add(89*day))
	_, dueChain, dueKey := selfSigned(t, doms, now.Add(-80*day), now.Add(5*day))
	serial := newCertInfo(leaf).serial
	window := CertState{Serial: serial, ARIStart: now.Add(50 * day), ARIEnd: now.Add(52 * day),
		RenewAt: now.Add(51 * day), ARINextPoll: now.Add(6 * time.Hour)}
	for _, tc := range []struct {
		name       string
		chain, key []byte
		state      *CertState
		domains    []string
		ok         bool
	}{
		{"not due, window known", chain, key, &window, doms, true},
		{"no certificate", nil, nil, &window, doms, false},
		{"key of another certificate", chain, otherKey, &window, doms, false},
		{"no key", chain, nil, &window, doms, false},
		{"due", dueChain, dueKey, &CertState{}, doms, false},
		{"window unknown: ask the CA", chain, key, nil, doms, false},
		{"window of another serial", chain, key, &CertState{Serial: "01", ARIStart: window.ARIStart, ARIEnd: window.ARIEnd, ARINextPoll: window.ARINextPoll}, doms, false},
		{"window to be polled again", chain, key, &CertState{Serial: serial, ARIStart: window.ARIStart, ARIEnd: window.ARIEnd, ARINextPoll: now.Add(-time.Minute)}, doms, false},
		{"a domain added to the config", chain, key, &window, []string{doms[0], "b.example.com"}, false},
	} {
		h := newFakeHost(t)
		if tc.chain != nil {
			_ = h.WriteFile(ctx, host.FileSpec{Path: p.Fullchain, Data: tc.chain})
		}
		if tc.key != nil {
			_ = h.WriteFile(ctx, host.FileSpec{Path: p.Privkey, Data: tc.key})
		}
		if tc.state != nil {
			if err := tc.state.Save(ctx, h, p); err != nil {
				t.Fatal(err)
			}
		}
		res, until, ok := NotDue(ctx, h, p, tc.domains, now)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v (%+v)", tc.name, ok, tc.ok, res)
			continue
		}
		if ok && (res.Status != StatusNotDue || res.Serial != serial || !res.RenewAt.Equal(window.RenewAt.UTC()) ||
			!strings.Contains(res.Reason, "inside the CA's renewal window") || res.Name != doms[0] || !until.Equal(window.ARINextPoll)) {
			t.Errorf("%s: %+v", tc.name, res)
		}
	}
}
