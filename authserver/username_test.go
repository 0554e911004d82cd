package authserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	joseNFC = "Jos\u00e9"  // é precomposed, as most keyboards send it
	joseNFD = "Jose\u0301" // e + combining acute, as macOS file names and some IMEs send it
)

func TestNormalizeUsername(t *testing.T) {
	ok := map[string]string{
		"alice":                               "alice",
		"Bob":                                 "Bob",
		"user@example.com":                    "user@example.com",
		"mary jane":                           "mary jane",
		joseNFC:                               joseNFC,
		joseNFD:                               joseNFC,
		"\u674e\u5c0f\u9f8d":                  "\u674e\u5c0f\u9f8d",             // CJK
		"\u0928\u093f\u0924\u093f\u0928":      "\u0928\u093f\u0924\u093f\u0928", // Devanagari with a vowel sign (Mc)
		"\U0001F600":                          "\U0001F600",                     // emoji, visible
		strings.Repeat("a", maxUsernameChars): strings.Repeat("a", maxUsernameChars),
		strings.Repeat("e\u0301", maxUsernameChars): strings.Repeat("\u00e9", maxUsernameChars), // 128 bytes of NFD, 64 characters of NFC
	}
	for in, want := range ok {
		got, err := NormalizeUsername(in)
		if err != nil || got != want {
			t.Errorf("NormalizeUsername(%+q) = %+q, %v; want %+q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                                      "empty",
		"\xff":                                  "UTF-8",
		"bo\x00b":                               "control",
		"bo\nb":                                 "control",
		"bo\tb":                                 "control",
		"\x1b[31mroot":                          "control",
		"al\u200bice":                           "format", // zero-width space
		"al\u200cice":                           "format", // zero-width non-joiner
		"al\u200dice":                           "format", // zero-width joiner
		"\u2060alice":                           "format", // word joiner
		"\ufeffalice":                           "format", // byte-order mark
		"al\u00adice":                           "format", // soft hyphen
		"\u202egnp.exe":                         "format", // right-to-left override
		"admin\u202d":                           "format", // left-to-right override
		"\u2066admin\u2069":                     "format", // isolates
		"\u061calice":                           "format", // Arabic letter mark
		"ali\u00a0ce":                           "space",  // no-break space
		"alice\u3000":                           "space",  // ideographic space
		"ali\u2009ce":                           "space",  // thin space
		"ali\u2028ce":                           "separator",
		"ali\u2029ce":                           "separator",
		"ali\ue000ce":                           "private-use",
		"ali\U000F0000ce":                       "private-use",
		"ali\u0378ce":                           "unassigned",
		"alice\ufe0f":                           "invisible", // variation selector
		"alice\U000E0100":                       "invisible", // variation selector supplement
		"al\u034fice":                           "invisible", // combining grapheme joiner
		"\u3164alice":                           "invisible", // Hangul filler
		"alice\u2800":                           "invisible", // braille blank
		"\u0301alice":                           "combining",
		" bob":                                  "space",
		"bob ":                                  "space",
		strings.Repeat("a", maxUsernameChars+1): "longer",
		strings.Repeat("\u00e9", maxUsernameChars+1): "longer",
		strings.Repeat("\u6f22", maxUsernameLen/3+1): "longer", // 43 characters, 129 bytes
		strings.Repeat("a", 1<<20):                   "longer",
	}
	for in, reason := range bad {
		got, err := NormalizeUsername(in)
		if err == nil {
			t.Errorf("NormalizeUsername(%+q) = %+q, accepted", in, got)
			continue
		}
		if !errors.Is(err, ErrInvalidUsername) || !strings.Contains(err.Error(), reason) {
			t.Errorf("NormalizeUsername(%+q): %v; want ErrInvalidUsername about %q", in, err, reason)
		}
		if strings.ContainsAny(err.Error(), "\x00\n\x1b\u202e") {
			t.Errorf("error for %+q carries the character itself: %q", in, err)
		}
	}
}

// The same name typed precomposed (NFC) or decomposed (NFD) is one user,
// stored and put in sub in NFC, for every method and at login.
func TestUsernameNFCAndNFDAreOneUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		ctx := t.Context()
		if err := e.st.AddUser(ctx, joseNFD, testPassword); err != nil {
			t.Fatal(err)
		}
		if err := e.st.AddUser(ctx, joseNFC, testPassword); !errors.Is(err, ErrUserExists) {
			t.Fatalf("AddUser of the NFC twin of an NFD name: %v, want ErrUserExists", err)
		}
		if err := e.st.ImportUser(ctx, joseNFC, dummyHash); !errors.Is(err, ErrUserExists) {
			t.Fatalf("ImportUser of the NFC twin: %v, want ErrUserExists", err)
		}
		us, err := e.st.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 2 || us[0].Username != joseNFC {
			t.Fatalf("ListUsers = %+v; want %+q stored in NFC", us, joseNFC)
		}
		for _, name := range []string{joseNFD, joseNFC} {
			resp, body := e.postForm("/token", url.Values{"username": {name}, "password": {testPassword}})
			tr := mustTokens(t, resp, body)
			resp, body = e.me(tr.AccessToken)
			var me struct{ Sub string }
			if err := json.Unmarshal(body, &me); err != nil || resp.StatusCode != 200 || me.Sub != joseNFC {
				t.Fatalf("login as %+q: /me %d %s; want sub %+q", name, resp.StatusCode, body, joseNFC)
			}
		}
		if err := e.st.SetPassword(ctx, joseNFD, "another good password"); err != nil {
			t.Fatalf("SetPassword by the NFD name: %v", err)
		}
		resp, body := e.postForm("/token", url.Values{"username": {joseNFC}, "password": {"another good password"}})
		mustTokens(t, resp, body)
		if err := e.st.RevokeSessions(ctx, joseNFD); err != nil {
			t.Fatalf("RevokeSessions by the NFD name: %v", err)
		}
		if err := e.st.DisableUser(ctx, joseNFD); err != nil {
			t.Fatalf("DisableUser by the NFD name: %v", err)
		}
		resp, body = e.postForm("/token", url.Values{"username": {joseNFC}, "password": {"another good password"}})
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")

		for _, bad := range []string{"al\u200bice", "alice\u202e", "ali\u00a0ce"} {
			if err := e.st.AddUser(ctx, bad, testPassword); !errors.Is(err, ErrInvalidUsername) {
				t.Errorf("AddUser(%+q): %v, want ErrInvalidUsername", bad, err)
			}
			if err := e.st.SetPassword(ctx, bad, testPassword); !errors.Is(err, ErrInvalidUsername) {
				t.Errorf("SetPassword(%+q): %v, want ErrInvalidUsername", bad, err)
			}
		}
	})
}
