package authserver

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrInvalidUsername is returned (wrapped, with the reason) for a username
// that NormalizeUsername refuses.
var ErrInvalidUsername = errors.New("invalid username")

const (
	// maxUsernameLen bounds a username in bytes of its NFC form, which is
	// what the database stores (VARCHAR(128) on MySQL).
	maxUsernameLen = 128
	// maxUsernameChars bounds it in characters: 64 are plenty for an
	// e-mail address or a name, and a short bound keeps look-alike
	// padding out of listings and logs.
	maxUsernameChars = 64
)

// NormalizeUsername returns the form of u that is stored, compared and put
// in tokens' sub: Unicode NFC, so that a name typed on a keyboard that
// sends decomposed characters (NFD, as macOS does) is the same user as the
// precomposed one. It refuses names that could pose as another in a
// listing, a log or a backend's user table: invalid UTF-8; control, format
// (zero-width space and joiners, bidirectional overrides, byte-order
// mark), private-use, unassigned, surrogate and other invisible or
// default-ignorable characters (variation selectors, Hangul fillers,
// braille blank); line or paragraph separators and any space but U+0020;
// a space at either end; a combining mark at the start; and more than
// maxUsernameChars characters or maxUsernameLen bytes. Case is preserved
// and significant: sub must be exactly what the backend stored.
func NormalizeUsername(u string) (string, error) {
	if u == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidUsername)
	}
	// NFC of a short name is short; bounding the input first keeps
	// normalising an attacker's megabyte off the login path.
	if len(u) > 4*maxUsernameLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidUsername, maxUsernameChars)
	}
	if !utf8.ValidString(u) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidUsername)
	}
	n := norm.NFC.String(u)
	if len(n) > maxUsernameLen || utf8.RuneCountInString(n) > maxUsernameChars {
		return "", fmt.Errorf("%w: longer than %d characters (%d bytes)", ErrInvalidUsername, maxUsernameChars, maxUsernameLen)
	}
	for i, r := range n {
		if reason := refusedRune(r); reason != "" {
			return "", fmt.Errorf("%w: contains %U, %s", ErrInvalidUsername, r, reason)
		}
		if i == 0 && unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) {
			return "", fmt.Errorf("%w: starts with the combining mark %U", ErrInvalidUsername, r)
		}
	}
	if n[0] == ' ' || n[len(n)-1] == ' ' {
		return "", fmt.Errorf("%w: leading or trailing space", ErrInvalidUsername)
	}
	return n, nil
}

// refusedRune says why r may not be part of a username, or "" if it may.
func refusedRune(r rune) string {
	switch {
	case r == ' ':
		return ""
	case unicode.IsControl(r): // Cc: NUL, line breaks, escape sequences
		return "a control character"
	case unicode.Is(unicode.Cf, r): // ZWSP/ZWJ/ZWNJ, LRO/RLO/PDF, isolates, BOM, soft hyphen
		return "an invisible format character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Zs, r): // NBSP, en/em spaces, ideographic space
		return "a space other than U+0020"
	case unicode.In(r, unicode.Co, unicode.Cs):
		return "a private-use or surrogate code point"
	case unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point), r == '\u2800':
		// Default-ignorable: rendered as nothing (variation selectors,
		// combining grapheme joiner, Hangul fillers); U+2800 renders blank.
		return "an invisible character"
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		// Unassigned (Cn) in this Unicode version: whatever it becomes
		// later, it would render as nothing or a box today.
		return "an unassigned code point"
	}
	return ""
}
