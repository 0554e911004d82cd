package authserver

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Users imported from a FastAPI/passlib database keep their passwords;
// the bcrypt hash gives way to Argon2id at the first login.
func TestImportBcryptUpgradesOnLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		h, err := bcrypt.GenerateFromPassword([]byte("imported password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		for _, prefix := range []string{"$2b$", "$2a$", "$2y$"} {
			user := "bob" + prefix[2:3]
			if err := e.st.ImportUser(t.Context(), user, prefix+string(h[4:])); err != nil {
				t.Fatalf("import %s: %v", prefix, err)
			}
			resp, body := e.postForm("/token", url.Values{"username": {user}, "password": {"wrong password"}})
			wantError(t, resp, body, 401, "invalid_grant")
			resp, body = e.postForm("/token", url.Values{"username": {user}, "password": {"imported password"}})
			mustTokens(t, resp, body)
			var stored string
			if err := e.st.r.QueryRow(e.st.d.q(`SELECT password_hash FROM myapp_auth_users WHERE username = ?`), user).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$") {
				t.Errorf("%s: hash not upgraded: %q", prefix, stored)
			}
			resp, body = e.postForm("/token", url.Values{"username": {user}, "password": {"imported password"}})
			mustTokens(t, resp, body)
		}
		if err := e.st.ImportUser(t.Context(), "bobb", string(h)); err == nil {
			t.Error("duplicate import accepted")
		}
	})
}

func TestImportRejectsBadHashes(t *testing.T) {
	st := openTestStore(t)
	slow, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	slow[4], slow[5] = '2', '0' // cost 20: a second per login, planted
	for _, bad := range []string{"", "plaintext", "$2b$10$short", "$1$md5$hash", string(slow),
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"} {
		if err := st.ImportUser(t.Context(), "carol", bad); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
	good := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	if err := st.ImportUser(t.Context(), "carol", good); err != nil {
		t.Errorf("argon2id PHC refused: %v", err)
	}
}
