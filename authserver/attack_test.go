package authserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An attack is one hostile request, or a short sequence ending in one,
// sent over real HTTP to a server on a fresh database. Every case checks
// the final status and the body, and then whatever else it must (that a
// session survived, or died).
type attack struct {
	name string
	opts func(*Options) // server options for this case, if any
	// run performs the attack and returns the final response.
	run    func(t *testing.T, e *env) (*http.Response, []byte)
	status int
	// code is the expected JSON "error"; detail, if set, must be part of
	// the JSON "detail". Cases whose body is no JSON error set body.
	code, detail string
	body         func(t *testing.T, b []byte)
	after        func(t *testing.T, e *env, resp *http.Response)
}

// attacks gathers the cases of attack_*_test.go.
func attacks() []attack {
	var all []attack
	all = append(all, accessTokenAttacks()...)
	all = append(all, refreshAttacks()...)
	all = append(all, loginAttacks()...)
	return all
}

// TestAttackSuite runs every case on every database backend.
func TestAttackSuite(t *testing.T) {
	cases := attacks()
	if len(cases) < 30 {
		t.Fatalf("only %d attack cases", len(cases))
	}
	seen := map[string]bool{}
	for _, a := range cases {
		if seen[a.name] {
			t.Fatalf("duplicate case %q", a.name)
		}
		seen[a.name] = true
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, a := range cases {
			t.Run(a.name, func(t *testing.T) {
				var mods []func(*Options)
				if a.opts != nil {
					mods = append(mods, a.opts)
				}
				e := newEnvOn(t, b, mods...)
				resp, body := a.run(t, e)
				if resp.StatusCode != a.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, a.status, body)
				}
				switch {
				case a.body != nil:
					a.body(t, body)
				case a.code != "":
					wantError(t, resp, body, a.status, a.code)
					if a.detail != "" && !strings.Contains(jsonDetail(t, body), a.detail) {
						t.Errorf("detail of %s lacks %q", body, a.detail)
					}
				default:
					t.Fatal("case checks no body")
				}
				if a.after != nil {
					a.after(t, e, resp)
				}
			})
		}
	})
}

func jsonDetail(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Detail string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return e.Detail
}

// wantBodyEmpty is for 204 answers.
func wantBodyEmpty(t *testing.T, b []byte) {
	t.Helper()
	if len(b) != 0 {
		t.Errorf("body %q, want none", b)
	}
}

// rawRequest sends req as bytes on a fresh connection and reads the
// answer, for requests Go's client would refuse to send. The write runs
// beside the read: the server may answer and close before it has read
// everything.
func rawRequest(t *testing.T, e *env, req []byte) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.ts.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write(req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// sessionAlive checks that the session of tok can still refresh.
func sessionAlive(t *testing.T, e *env, tok string) {
	t.Helper()
	e.clock.Advance(time.Minute) // past any grace window
	resp, body := e.refresh(tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session should have survived: %d %s", resp.StatusCode, body)
	}
}

// sessionDead checks that tok is refused with invalid_grant.
func sessionDead(t *testing.T, e *env, tok string) {
	t.Helper()
	resp, body := e.refresh(tok)
	wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
}
