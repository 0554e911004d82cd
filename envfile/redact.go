package envfile

import "strings"

const (
	redacted        = "<redacted>"
	redactedChanged = "<redacted, changed>"
	unparsed        = "<unparsed line redacted>"
)

// Redact returns data with every value hidden, for dry-run diffs and logs:
// each assignment becomes KEY=<redacted> on one line (the continuation
// lines of a multi-line value go with it), anything else python-dotenv
// does not read as a comment becomes <unparsed line redacted>. Comments
// and blank lines stay, except a comment that systemd reads as part of a
// value (after a line ending in a backslash).
func Redact(data []byte) []byte {
	return redact(data, nil)
}

// RedactPair redacts both sides of a diff so that a change of only a value
// still shows: in next, an assignment whose statement differs from the
// same occurrence of its key in prev reads KEY=<redacted, changed>.
func RedactPair(prev, next []byte) (p, n []byte) {
	before := map[string][]string{}
	for _, s := range parseDotenv(string(prev)) {
		if s.kind == kindBinding {
			before[s.key] = append(before[s.key], s.body())
		}
	}
	n = redact(next, func(s segment, nth int) string {
		if old := before[s.key]; nth < len(old) && old[nth] != s.body() {
			return redactedChanged
		}
		return redacted
	})
	return Redact(prev), n
}

// redact renders data with values hidden; marker, when set, picks the
// text for the nth (from 0) assignment of a key.
func redact(data []byte, marker func(s segment, nth int) string) []byte {
	text := string(data)
	sd := parseSystemd(text)
	seen := map[string]int{}
	var b strings.Builder
	pos := 0
	for _, s := range parseDotenv(text) {
		start, end := pos+s.lead, pos+len(s.raw)
		pos = end
		b.WriteString(s.raw[:s.lead])
		switch {
		case s.kind == kindSpace:
		case s.kind == kindComment && !insideValue(sd, start, end):
			b.WriteString(s.body())
		case s.kind == kindBinding && keyRe.MatchString(s.key):
			m := redacted
			if marker != nil {
				m = marker(s, seen[s.key])
			}
			seen[s.key]++
			if s.export {
				b.WriteString("export ")
			}
			b.WriteString(s.key + "=" + m + s.eol())
		default:
			b.WriteString(unparsed + s.eol())
		}
	}
	return []byte(b.String())
}

// insideValue reports whether systemd reads any of text[start:end] as part
// of an assignment.
func insideValue(sd []sdAssign, start, end int) bool {
	for _, a := range sd {
		if a.start < end && start < a.end {
			return true
		}
	}
	return false
}
