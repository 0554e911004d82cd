package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/host"
)

func selfSigned(t *testing.T, names []string, nb, na time.Time) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: nb, NotAfter: na}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	return leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	doms := []string{"a.example.com"}
	leaf90, _, _ := selfSigned(t, doms, now.Add(-10*day), now.Add(80*day)) // 90 days, renew at 30 left
	leaf6, _, _ := selfSigned(t, doms, now.Add(-2*day), now.Add(4*day))    // 6 days, renew at 3 left
	leaf6due, _, _ := selfSigned(t, doms, now.Add(-4*day), now.Add(2*day)) // 2 left of 6
	leafOther, _, _ := selfSigned(t, []string{"b.example.com"}, now, now.Add(90*day))
	serial := func(c *x509.Certificate) string { return newCertInfo(c).serial }
	for _, tc := range []struct {
		name    string
		leaf    *x509.Certificate
		st      CertState
		due     bool
		needARI bool
		backoff bool
	}{
		{"none", nil, CertState{}, true, false, false},
		{"not covering", leafOther, CertState{}, true, false, false},
		{"fresh, no ARI yet", leaf90, CertState{}, false, true, false},
		{"fresh, ARI known and current", leaf90, CertState{Serial: serial(leaf90), ARIStart: now.Add(50 * day), ARIEnd: now.Add(52 * day), RenewAt: now.Add(51 * day), ARINextPoll: now.Add(time.Hour)}, false, false, false},
		{"ARI window passed", leaf90, CertState{Serial: serial(leaf90), ARIStart: now.Add(-2 * day), ARIEnd: now.Add(-day), RenewAt: now.Add(-day), ARINextPoll: now.Add(time.Hour)}, true, false, false},
		{"ARI stale poll", leaf90, CertState{Serial: serial(leaf90), ARIStart: now.Add(50 * day), ARIEnd: now.Add(52 * day), RenewAt: now.Add(51 * day), ARINextPoll: now.Add(-time.Hour)}, false, true, false},
		{"ARI unsupported", leaf90, CertState{Serial: serial(leaf90), ARIUnsupp: true, ARINextPoll: now.Add(day)}, false, false, false},
		{"short-lived, half left", leaf6, CertState{ARIUnsupp: true, Serial: serial(leaf6), ARINextPoll: now.Add(day)}, false, false, false},
		{"short-lived, under half", leaf6due, CertState{}, true, false, false},
		{"due but backing off", leafOther, CertState{NextAttempt: now.Add(time.Hour)}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			d := DecideLeaf(tc.leaf, doms, &st, now)
			if d.Due != tc.due || d.NeedARI != tc.needARI || d.Backoff != tc.backoff {
				t.Fatalf("got due=%v needARI=%v backoff=%v (%s)", d.Due, d.NeedARI, d.Backoff, d.Reason)
			}
		})
	}
}

// TestDecideUntil: a not-due decision is the same at every moment before
// its Until, and changes just after it: a decision remembered until then
// is never stale.
func TestDecideUntil(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	doms := []string{"a.example.com"}
	leaf90, _, _ := selfSigned(t, doms, now.Add(-10*day), now.Add(80*day))
	leaf6, _, _ := selfSigned(t, doms, now.Add(-2*day), now.Add(4*day))
	s90, s6 := newCertInfo(leaf90).serial, newCertInfo(leaf6).serial
	for _, tc := range []struct {
		name  string
		leaf  *x509.Certificate
		st    CertState
		until time.Time
	}{
		{"window polled again first", leaf90, CertState{Serial: s90, ARIStart: now.Add(50 * day), ARIEnd: now.Add(52 * day), RenewAt: now.Add(51 * day), ARINextPoll: now.Add(6 * time.Hour)}, now.Add(6 * time.Hour)},
		{"renewal time first", leaf90, CertState{Serial: s90, ARIStart: now.Add(day), ARIEnd: now.Add(3 * day), RenewAt: now.Add(2 * day), ARINextPoll: now.Add(5 * day)}, now.Add(2 * day)},
		{"no ARI, lifetime first", leaf6, CertState{Serial: s6, ARIUnsupp: true, ARINextPoll: now.Add(7 * day)}, now.Add(day)},
		{"no ARI, ask again first", leaf90, CertState{Serial: s90, ARIUnsupp: true, ARINextPoll: now.Add(7 * day)}, now.Add(7 * day)},
	} {
		st := tc.st
		d := DecideLeaf(tc.leaf, doms, &st, now)
		if d.Due || d.NeedARI || !d.Until.Equal(tc.until) {
			t.Errorf("%s: due=%v needARI=%v until %s, want not due until %s", tc.name, d.Due, d.NeedARI, d.Until, tc.until)
			continue
		}
		if b := DecideLeaf(tc.leaf, doms, &st, d.Until.Add(-time.Nanosecond)); b.Due || b.NeedARI || b.Reason != d.Reason {
			t.Errorf("%s: just before Until the decision changed: %+v", tc.name, b)
		}
		if a := DecideLeaf(tc.leaf, doms, &st, d.Until.Add(time.Nanosecond)); !a.Due && !a.NeedARI {
			t.Errorf("%s: just after Until still not due without asking the CA: %+v", tc.name, a)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	now := time.Now()
	st := &CertState{}
	var last time.Duration
	for i := 0; i < 12; i++ {
		st.RecordFailure(now, errors.New("boom"), time.Time{})
		d := st.NextAttempt.Sub(now)
		if d < last || d > backoffMax {
			t.Fatalf("failure %d: backoff %s after %s", i+1, d, last)
		}
		last = d
	}
	if last != backoffMax {
		t.Fatalf("backoff not capped at %s: %s", backoffMax, last)
	}
	st.RecordFailure(now, errors.New("rate limited"), now.Add(48*time.Hour))
	if !st.NextAttempt.Equal(now.Add(48 * time.Hour)) {
		t.Fatal("the CA's Retry-After was not respected")
	}
	st.RecordSuccess(now, "ab")
	if st.Failures != 0 || !st.NextAttempt.IsZero() {
		t.Fatal("success did not reset the backoff")
	}
}

// TestBackoffFromDamagedState: a state file with a nonsense failure count
// (hand-edited, damaged) gives a backoff within the bounds, not a panic.
func TestBackoffFromDamagedState(t *testing.T) {
	now := time.Now()
	for _, n := range []int{-3, -1 << 62, 1<<63 - 1, 1 << 40} {
		st := &CertState{Failures: n}
		st.RecordFailure(now, errors.New("boom"), time.Time{})
		if d := st.NextAttempt.Sub(now); d < backoffBase || d > backoffMax || st.Failures < 1 {
			t.Errorf("failures %d: next attempt in %s, count %d", n, d, st.Failures)
		}
	}
}

func TestARIRenewTimeStableInsideWindow(t *testing.T) {
	now := time.Now()
	st := &CertState{}
	st.SetARI("01", now.Add(time.Hour), now.Add(3*time.Hour), "", now.Add(time.Hour))
	first := st.RenewAt
	if first.Before(now.Add(time.Hour)) || first.After(now.Add(3*time.Hour)) {
		t.Fatalf("renew time %s outside the window", first)
	}
	if off := first.Sub(now.Add(time.Hour)); off%time.Second != 0 {
		t.Errorf("renew time %s is %s into the window: not whole seconds (JSON would show nanoseconds)", first, off)
	}
	st.SetARI("01", now.Add(time.Hour), now.Add(3*time.Hour), "", now.Add(2*time.Hour))
	if !st.RenewAt.Equal(first) {
		t.Fatal("the same window picked a new time")
	}
}

func TestUsableCert(t *testing.T) {
	h := newFakeHost(t)
	p := PathsFor("shop", "a.example.com")
	_, chain, key := selfSigned(t, []string{"a.example.com"}, time.Now(), time.Now().Add(time.Hour))
	_, _, otherKey := selfSigned(t, []string{"a.example.com"}, time.Now(), time.Now().Add(time.Hour))
	put := func(path string, data []byte) {
		_ = h.WriteFile(context.Background(), host.FileSpec{Path: path, Data: data})
	}
	check := func(want string) {
		t.Helper()
		leaf, why, err := UsableCert(context.Background(), h, p)
		if err != nil || (want == "" && leaf == nil) || (want != "" && (leaf != nil || !strings.Contains(why, want))) {
			t.Fatalf("want %q: leaf %v, why %q, err %v", want, leaf != nil, why, err)
		}
	}
	check("no certificate")
	put(p.Fullchain, []byte("garbage"))
	check("unreadable")
	put(p.Fullchain, chain)
	check("no private key")
	put(p.Privkey, otherKey)
	check("does not match")
	put(p.Privkey, key)
	check("")
}

// TestLifetimeRenewAtWholeSeconds: a lifetime that a third does not
// divide into whole seconds still gives a renewal time without a fraction
// (JSON shows it), not later than the third.
func TestLifetimeRenewAtWholeSeconds(t *testing.T) {
	nb := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90*24*time.Hour + time.Second)
	leaf, _, _ := selfSigned(t, []string{"a.example.com"}, nb, na)
	d := DecideLeaf(leaf, []string{"a.example.com"}, &CertState{ARIUnsupp: true, Serial: newCertInfo(leaf).serial, ARINextPoll: nb.Add(365 * 24 * time.Hour)}, nb)
	third := na.Sub(nb) / 3
	if d.RenewAt.Nanosecond() != 0 || d.RenewAt.After(na.Add(-third)) || d.RenewAt.Before(na.Add(-third-time.Second)) {
		t.Errorf("renew at %s, want %s truncated to the second", d.RenewAt.Format(time.RFC3339Nano), na.Add(-third).Format(time.RFC3339Nano))
	}
}
