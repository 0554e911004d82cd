package authserver

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// Fifty tabs refresh the same token at once: none may see a 500 or
// "database is locked", all get the one successor, and the session's
// lineage stays a single chain.
func TestConcurrentRefreshOneSuccessor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tok := e.login().RefreshToken
		const n = 50
		type result struct {
			status  int
			refresh string
			err     error
		}
		results := make([]result, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				body := strings.NewReader(`{"refresh_token":"` + tok + `"}`)
				resp, err := e.ts.Client().Post(e.ts.URL+"/token/refresh", "application/json", body)
				if err != nil {
					results[i].err = err
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				var tr tokenResponse
				json.Unmarshal(b, &tr)
				results[i] = result{status: resp.StatusCode, refresh: tr.RefreshToken}
				if resp.StatusCode != 200 {
					results[i].err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
				}
			})
		}
		close(start)
		wg.Wait()

		successors := map[string]int{}
		for i, r := range results {
			if r.err != nil {
				t.Errorf("request %d: %v", i, r.err)
				continue
			}
			successors[r.refresh]++
		}
		if len(successors) != 1 {
			t.Fatalf("%d different successors: %v", len(successors), successors)
		}
		if got := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_sessions`); got != 1 {
			t.Errorf("%d sessions, want 1", got)
		}
		// The lineage: the login token, rotated, and its one successor, current.
		if got := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_refresh_tokens`); got != 2 {
			t.Errorf("%d refresh tokens stored, want 2", got)
		}
		if got := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_refresh_tokens WHERE rotated_at IS NULL`); got != 1 {
			t.Errorf("%d current refresh tokens, want 1", got)
		}
		for s := range successors {
			e.mustRefresh(s)
		}
	})
}

// The CLI (`myapp auth user ...`) opens its own Store on the file the
// server uses. Its writes must wait for the server's, not fail.
func TestTwoStoresOnOneFile(t *testing.T) {
	e := newEnv(t)
	cli, err := OpenStore(t.Context(), "sqlite:"+e.st.path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	tok := e.login().RefreshToken
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 4 {
		wg.Go(func() { errs <- cli.AddUser(t.Context(), fmt.Sprintf("user%d", i), testPassword) })
	}
	for range 10 {
		resp, body := e.refresh(tok)
		tok = mustTokens(t, resp, body).RefreshToken
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if us, err := e.st.ListUsers(t.Context()); err != nil || len(us) != 5 {
		t.Fatalf("ListUsers = %v, %v; want 5 users", us, err)
	}
}
