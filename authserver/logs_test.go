package authserver

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs go to journald and on to whoever reads them: they may say who and
// what, never a token or a password.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	secrets := []string{testPassword, "Wr0ng-guess!", "typed-password-as-username"}

	e.postForm("/token", url.Values{"username": {testUser}, "password": {"Wr0ng-guess!"}})
	e.postForm("/token", url.Values{"username": {"typed-password-as-username"}, "password": {testPassword}})
	tr := e.login()
	next := e.mustRefresh(tr.RefreshToken)
	e.mustRefresh(tr.RefreshToken) // duplicate inside the grace window
	e.clock.Advance(time.Minute)
	e.refresh(tr.RefreshToken) // reuse: session revoked
	e.me(next.AccessToken)
	e.me(next.AccessToken + "x")
	e.do("POST", "/logout", "", "", "Cookie", cookieName+"="+next.RefreshToken)
	e.do("GET", "/me/"+next.AccessToken+"?refresh_token="+next.RefreshToken, "", "") // secrets in a URL
	e.do("POST", "/logout/all", "", "", "Authorization", "Bearer "+tr.AccessToken)
	secrets = append(secrets, tr.AccessToken, tr.RefreshToken, next.AccessToken, next.RefreshToken)

	logs := buf.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the secret %q:\n%s", s, logs)
		}
	}
	for _, want := range []string{"login failed", "reason=\"wrong password\"", "reason=\"unknown user\"",
		"refresh token reuse detected", "user=alice", "msg=login", "msg=\"logout all\"",
		// the access log, one line a request
		"level=INFO msg=request method=POST path=/token status=401", "path=/token/refresh status=200",
		"path=/logout status=204", "path=/me status=200", "path=(other) status=404", "remote=127.0.0.1"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}
