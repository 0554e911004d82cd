package provision

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/myapp/myapp/provision/host"
)

// CertState is what cert renew remembers between runs, so that a run with
// nothing to do decides from local files alone: the CA's renewal window
// (ARI, RFC 9773) for the installed certificate, when to ask again, and the
// failure backoff. Kept in /var/lib/myapp/acme/state/<app>.json.
type CertState struct {
	Serial string `json:"serial,omitempty"` // the certificate the ARI fields describe

	ARIStart    time.Time `json:"ari_window_start,omitzero"`
	ARIEnd      time.Time `json:"ari_window_end,omitzero"`
	ARIExplain  string    `json:"ari_explanation_url,omitempty"`
	ARINextPoll time.Time `json:"ari_next_poll,omitzero"`    // Retry-After of the last answer
	ARIUnsupp   bool      `json:"ari_unsupported,omitempty"` // the CA has no renewalInfo
	RenewAt     time.Time `json:"renew_at,omitzero"`         // chosen once inside the window

	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastResult  string    `json:"last_result,omitempty"` // renewed | failed
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // backoff or the CA's Retry-After
}

// statePath is where the state of p's certificate lives.
func (p Paths) statePath() string { return p.ACMEState + "/state/" + p.App + ".json" }

// DecisionFiles are the files on the host a renewal decision is made from,
// besides the app's config: the certificate, its key and the state.
func (p Paths) DecisionFiles() []string { return []string{p.Fullchain, p.Privkey, p.statePath()} }

// LoadCertState reads the state; a missing or unreadable file is an empty
// state (the worst outcome is one extra ARI request).
func LoadCertState(ctx context.Context, h host.Host, p Paths) *CertState {
	s := &CertState{}
	if data, err := h.ReadFile(ctx, p.statePath()); err == nil {
		_ = json.Unmarshal(data, s)
	}
	return s
}

// Save writes the state atomically.
func (s *CertState) Save(ctx context.Context, h host.Host, p Paths) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := h.WriteFile(ctx, host.FileSpec{Path: p.statePath(), Data: append(data, '\n'), Mode: 0o600}); err != nil {
		return fmt.Errorf("save certificate state: %w", err)
	}
	return nil
}

// Backoff bounds: a broken host retries after 30 min, then 1 h, 2 h, ...,
// at most once a day, so it never hammers the CA.
const (
	backoffBase = 30 * time.Minute
	backoffMax  = 24 * time.Hour
)

// RecordFailure counts a failed attempt and schedules the next one: the
// CA's Retry-After when it gave one, else exponential backoff.
func (s *CertState) RecordFailure(now time.Time, err error, retryAfter time.Time) {
	s.Failures = min(max(s.Failures, 0), 1<<20) + 1 // a hand-edited or damaged file may hold anything
	s.LastAttempt, s.LastResult, s.LastError = now, "failed", err.Error()
	d := backoffBase << min(s.Failures-1, 10)
	if d > backoffMax {
		d = backoffMax
	}
	s.NextAttempt = now.Add(d)
	if retryAfter.After(s.NextAttempt) {
		s.NextAttempt = retryAfter
	}
}

// RecordSuccess resets the backoff and forgets the old certificate's window.
func (s *CertState) RecordSuccess(now time.Time, serial string) {
	*s = CertState{Serial: serial, LastAttempt: now, LastResult: "renewed"}
}

// SetARI stores a renewal window for serial and picks the renewal time: a
// uniformly random moment inside the window, chosen once (RFC 9773 §4.2) so
// that many hosts do not renew at the same instant.
func (s *CertState) SetARI(serial string, start, end time.Time, explain string, nextPoll time.Time) {
	if s.Serial != serial || !s.ARIStart.Equal(start) || !s.ARIEnd.Equal(end) || s.RenewAt.IsZero() {
		s.RenewAt = start
		if w := end.Sub(start); w > 0 {
			s.RenewAt = start.Add(rand.N(w).Truncate(time.Second)) // whole seconds, as the window is given
		}
	}
	s.Serial, s.ARIStart, s.ARIEnd, s.ARIExplain, s.ARINextPoll, s.ARIUnsupp = serial, start, end, explain, nextPoll, false
}

// Decision is the outcome of Decide.
type Decision struct {
	Due     bool
	NeedARI bool      // the window is unknown or stale: ask the CA (a network call)
	Backoff bool      // due, but an earlier failure says wait
	RenewAt time.Time // when renewal becomes due
	// Until is when a not-due decision may change with the same inputs:
	// renewal becomes due, or the CA's window is to be asked for again.
	Until  time.Time
	Reason string
}

// Decide says, from local data only, whether the certificate is due. The
// lifetime rule (renew with a third of the lifetime left, half for
// certificates of ten days or less) always applies; a CA's ARI window can
// only make renewal earlier.
func Decide(leaf *certInfo, domains []string, s *CertState, now time.Time) Decision {
	if leaf == nil {
		return Decision{Due: true, Reason: "no certificate", Backoff: now.Before(s.NextAttempt)}
	}
	if missing := leaf.missing(domains); missing != "" {
		return Decision{Due: true, Reason: "certificate does not cover " + missing, Backoff: now.Before(s.NextAttempt)}
	}
	at, why := leaf.lifetimeRenewAt(), "a third of the lifetime left"
	if leaf.short() {
		why = "half of the lifetime left"
	}
	ariKnown := s.Serial == leaf.serial && !s.ARIStart.IsZero()
	if ariKnown && s.RenewAt.Before(at) {
		at, why = s.RenewAt, "inside the CA's renewal window"
	}
	d := Decision{RenewAt: at}
	if now.Before(at) {
		d.Reason = fmt.Sprintf("not due: renewal from %s (%s), expires %s", at.UTC().Format(time.RFC3339), why, leaf.notAfter.UTC().Format(time.RFC3339))
		d.NeedARI = !s.ARIUnsupp && (s.Serial != leaf.serial || now.After(s.ARINextPoll))
		if s.ARIUnsupp && now.After(s.ARINextPoll) {
			d.NeedARI = true // ask again now and then: the CA may have added ARI
		}
		d.Until = at
		if s.ARINextPoll.Before(at) {
			d.Until = s.ARINextPoll
		}
		return d
	}
	d.Due, d.Reason = true, "due: "+why
	d.Backoff = now.Before(s.NextAttempt)
	return d
}

// DecideLeaf is Decide for an x509 leaf (nil when none is installed).
func DecideLeaf(leaf *x509.Certificate, domains []string, s *CertState, now time.Time) Decision {
	return Decide(newCertInfo(leaf), domains, s, now)
}

// Covers reports whether leaf names every domain.
func Covers(leaf *x509.Certificate, domains []string) bool {
	return newCertInfo(leaf).missing(domains) == ""
}
