package authserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPasswordHashVerify(t *testing.T) {
	st := openTestStore(t)
	ctx := t.Context()
	h, err := st.hashPassword(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := st.hashPassword(ctx, testPassword)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	for pw, want := range map[string]bool{testPassword: true, testPassword + " ": false, "": false} {
		if ok, err := st.verifyPassword(ctx, h, pw); err != nil || ok != want {
			t.Errorf("verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if ok, err := st.verifyPassword(ctx, dummyHash, testPassword); err != nil || ok {
		t.Errorf("dummy hash: %v, %v; want a clean mismatch", ok, err)
	}
}

func TestParsePHCRejects(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	ok := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key
	if _, err := parsePHC(ok); err != nil {
		t.Fatalf("valid PHC refused: %v", err)
	}
	for _, bad := range []string{
		"", "plaintext", "$2b$10$abcdefghijklmnopqrstuv", // bcrypt
		strings.Replace(ok, "argon2id", "argon2i", 1),
		strings.Replace(ok, "v=19", "v=16", 1),
		strings.Replace(ok, "m=19456", "m=4194304", 1), // 4 GiB per login
		strings.Replace(ok, "t=2", "t=1000", 1),
		strings.Replace(ok, "t=2", "t=0", 1),
		strings.Replace(ok, "p=1", "p=0", 1),
		strings.Replace(ok, salt, "!!", 1),
		strings.Replace(ok, key, "c2hvcnQ", 1),
		ok + "$extra",
	} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
	}
}

// A client that gives up while queued for a hashing slot frees its place.
func TestHashSemaphoreHonoursContext(t *testing.T) {
	st := openTestStore(t)
	for range cap(st.hashes) {
		st.hashes <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := st.verifyPassword(ctx, dummyHash, testPassword); err == nil {
		t.Fatal("verify with every slot taken and an expired context succeeded")
	}
	for range cap(st.hashes) {
		<-st.hashes
	}
}

// The minimum length counts characters, the maximum bytes, on every path
// that sets a password.
func TestPasswordLengthBounds(t *testing.T) {
	st := openTestStore(t)
	if err := st.AddUser(t.Context(), "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pw   string
		want string // "" for accepted
	}{
		{"密码字", "too short: 3 characters, at least 8"}, // nine bytes
		{"1234567", "too short: 7 characters"},
		{"12345678", ""},
		{"密码字密码字密码", ""},
		{"pässwörd", ""},
		{strings.Repeat("p", maxPasswordLen), ""},
		{strings.Repeat("密", 342), "too long: 1026 bytes, at most 1024 bytes"}, // 342 characters
	} {
		for name, set := range map[string]func(string) error{
			"ValidatePassword": ValidatePassword,
			"AddUser":          func(pw string) error { return st.AddUser(t.Context(), "u"+fmt.Sprint(len(pw)), pw) },
			"SetPassword":      func(pw string) error { return st.SetPassword(t.Context(), "alice", pw) },
		} {
			err := set(tt.pw)
			if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, ErrInvalidPassword) || !strings.Contains(fmt.Sprint(err), tt.want)) {
				t.Errorf("%s(%d characters, %d bytes): %v; want %q", name, len([]rune(tt.pw)), len(tt.pw), err, tt.want)
			}
		}
	}
}
