package authserver

import "testing"

// A login and a refresh run only statements prepared at open: a hot
// query whose text drifted from hotQueries would be parsed again on every
// call, silently.
func TestHotPathsArePrepared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		if got, want := len(e.st.hot), len(hotQueries(e.st.d)); got != want {
			t.Fatalf("%d statements prepared, want %d", got, want)
		}
		tok := e.login().RefreshToken
		resp, body := e.refresh(tok)
		mustTokens(t, resp, body)
		resp, body = e.refresh(tok) // the duplicate inside the grace window
		mustTokens(t, resp, body)
		if n := e.st.unprepared.Load(); n != 0 {
			t.Errorf("%d hot-path queries were not prepared", n)
		}
	})
}
