// Package capped is a regular expression with a length limit, compiled on
// first use, for the name patterns config and the local CA check.
package capped

import (
	"regexp"
	"sync"
)

// Re is a pattern of ASCII characters with a length limit. The limit is
// not written as x{0,61}: RE2 compiles that into 61 copies of x, about
// 35 µs per pattern, while x* and a length check match the same strings.
// It is compiled when first matched, not at every start of the binary (a
// no-op cert renew never needs most patterns).
type Re struct {
	re  func() *regexp.Regexp
	Max int
}

// MustCompile is regexp.MustCompile, deferred to the first match, with a
// limit of max bytes.
func MustCompile(pattern string, max int) Re {
	return Re{sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) }), max}
}

// MatchString reports whether s is at most Max bytes and matches.
func (c Re) MatchString(s string) bool { return len(s) <= c.Max && c.re().MatchString(s) }

// String is the pattern.
func (c Re) String() string { return c.re().String() }
