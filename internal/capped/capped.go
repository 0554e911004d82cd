// Package capped is a regular expression with a length limit, for the
// name patterns config, templates and the local CA check at every start.
package capped

import "regexp"

// Re is a pattern of ASCII characters with a length limit. The limit is
// not written as x{0,61}: RE2 compiles that into 61 copies of x, about
// 35 µs per pattern at every start of the binary (cert renew included),
// while x* and a length check match the same strings.
type Re struct {
	*regexp.Regexp
	Max int
}

// MustCompile is regexp.MustCompile with a limit of max bytes.
func MustCompile(pattern string, max int) Re { return Re{regexp.MustCompile(pattern), max} }

// MatchString reports whether s is at most Max bytes and matches.
func (c Re) MatchString(s string) bool { return len(s) <= c.Max && c.Regexp.MatchString(s) }
