package envfile

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file ports the grammar of python-dotenv 0.21.0 (Debian 12's
// python3-dotenv, dotenv/parser.py) so that Get returns what the backend
// reads. The file is split into statements the way dotenv's parse_binding
// splits it, each keeping its exact bytes, so untouched statements are
// written back byte for byte. The parts that matter:
//
//   - A statement is: whitespace (blank lines, indentation), an optional
//     "export" followed by blanks, a key ('quoted' or a run of characters
//     other than "=", "#" and whitespace), blanks, optionally "=" blanks
//     value, an optional " # comment", and the line end. A statement that
//     does not match is skipped to the end of its line; a key without "="
//     has the value None (never set in the environment).
//   - 'single': up to the next ' not written as \' (the match spans lines);
//     \\ and \' are decoded, nothing else. "double": the same with ", and
//     \\ \' \" \a \b \f \n \r \t \v decoded. If the greedy scan runs off
//     the end of the file, the regex backtracks to the last \' (\") and
//     takes its quote as the closing one.
//   - unquoted: the rest of the line, cut at the first whitespace run that
//     is followed by "#", right-trimmed.
//   - dotenv opens the file in text mode: \r\n and \r are read as \n, also
//     inside quoted values.
//   - Values are then interpolated: ${NAME} and ${NAME:-default} are
//     replaced (from earlier keys and os.environ), quoted or not. Get does
//     not interpolate (it has no environment); the writer refuses values
//     that would be interpolated (see encode).

type segKind int

const (
	kindSpace   segKind = iota // whitespace at the end of the file
	kindComment                // "# ..."
	kindBinding                // KEY=value
	kindNoValue                // KEY without "=": python-dotenv maps it to None
	kindError                  // python-dotenv could not parse it and skips it
)

// segment is one statement as python-dotenv splits the file.
type segment struct {
	raw    string // exact bytes, from the whitespace before it to its line end
	lead   int    // length of the whitespace at the start of raw
	kind   segKind
	key    string // dotenv's key (kindBinding, kindNoValue); may be no valid name
	value  string // decoded value (kindBinding)
	export bool
}

// body is the statement without the whitespace before it.
func (s segment) body() string { return s.raw[s.lead:] }

// eol is the line end that closes the statement ("" at the end of a file
// without a final newline).
func (s segment) eol() string {
	switch {
	case strings.HasSuffix(s.raw, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(s.raw, "\n"):
		return "\n"
	case strings.HasSuffix(s.raw, "\r"):
		return "\r"
	}
	return ""
}

func parseDotenv(s string) []segment {
	var segs []segment
	for pos := 0; pos < len(s); {
		seg := parseStatement(s, pos)
		segs = append(segs, seg)
		pos += len(seg.raw)
	}
	return segs
}

type reader struct {
	s string
	p int
}

func parseStatement(s string, start int) segment {
	r := &reader{s: s, p: start}
	r.skip(isPySpace)
	seg := segment{lead: r.p - start}
	if r.p == len(s) {
		seg.kind = kindSpace
	} else if !r.statement(&seg) {
		// dotenv's _rest_of_line: [^\r\n]*(?:\r|\n|\r\n)? takes a lone \r
		// of a \r\n; the \n then leads the next statement.
		r.skip(func(c rune) bool { return c != '\r' && c != '\n' })
		if r.p < len(s) {
			r.p++
		}
		seg = segment{lead: seg.lead, kind: kindError}
	}
	seg.raw = s[start:r.p]
	return seg
}

func (r *reader) statement(seg *segment) bool {
	if strings.HasPrefix(r.s[r.p:], "export") {
		if n := blanksLen(r.s, r.p+len("export")); n > 0 {
			r.p += len("export") + n
			seg.export = true
		}
	}
	hasKey := true
	switch {
	case r.p < len(r.s) && r.s[r.p] == '#':
		hasKey = false
	case r.p < len(r.s) && r.s[r.p] == '\'':
		n := strings.IndexByte(r.s[r.p+1:], '\'')
		if n <= 0 {
			return false
		}
		seg.key = universalNewlines(r.s[r.p+1 : r.p+1+n])
		r.p += n + 2
	default:
		k := r.p
		r.skip(func(c rune) bool { return c != '=' && c != '#' && !isPySpace(c) })
		if r.p == k {
			return false
		}
		seg.key = r.s[k:r.p]
	}
	r.p += blanksLen(r.s, r.p)
	hasValue := false
	if r.p < len(r.s) && r.s[r.p] == '=' {
		r.p++
		r.p += blanksLen(r.s, r.p)
		v, ok := r.value()
		if !ok {
			return false
		}
		seg.value, hasValue = v, true
	}
	if q := r.p + blanksLen(r.s, r.p); q < len(r.s) && r.s[q] == '#' {
		r.p = q
		r.skip(func(c rune) bool { return c != '\r' && c != '\n' })
	}
	r.p += blanksLen(r.s, r.p)
	switch {
	case r.p == len(r.s):
	case strings.HasPrefix(r.s[r.p:], "\r\n"):
		r.p += 2
	case r.s[r.p] == '\n' || r.s[r.p] == '\r':
		r.p++
	default:
		return false
	}
	switch {
	case !hasKey:
		seg.kind = kindComment
	case hasValue:
		seg.kind = kindBinding
	default:
		seg.kind = kindNoValue
	}
	return true
}

func (r *reader) value() (string, bool) {
	if r.p == len(r.s) {
		return "", true
	}
	switch r.s[r.p] {
	case '\'':
		v, ok := r.quoted('\'')
		return unescape(v, singleEscapes), ok
	case '"':
		v, ok := r.quoted('"')
		return unescape(v, doubleEscapes), ok
	case '\r', '\n':
		return "", true
	}
	k := r.p
	r.skip(func(c rune) bool { return c != '\r' && c != '\n' })
	v := r.s[k:r.p]
	if i := inlineComment(v); i >= 0 {
		v = v[:i]
	}
	return strings.TrimRightFunc(v, isPySpace), true
}

// quoted reads '...' or "..." at r.p like the regex '((?:\\'|[^'])*)'
// with backtracking, and returns the raw content with newlines translated.
func (r *reader) quoted(q byte) (string, bool) {
	start, lastEsc := r.p+1, -1
	i := start
	for {
		if i >= len(r.s) {
			if lastEsc < 0 {
				return "", false
			}
			i = lastEsc + 1
			break
		}
		if r.s[i] == '\\' && i+1 < len(r.s) && r.s[i+1] == q {
			lastEsc = i
			i += 2
			continue
		}
		if r.s[i] == q {
			break
		}
		i++
	}
	r.p = i + 1
	return universalNewlines(r.s[start:i]), true
}

// inlineComment returns where dotenv's re.sub(r"\s+#.*", "", v) cuts an
// unquoted value: the start of the first whitespace run followed by "#".
func inlineComment(v string) int {
	run := -1
	for i, c := range v {
		switch {
		case isPySpace(c):
			if run < 0 {
				run = i
			}
		case c == '#' && run >= 0:
			return run
		default:
			run = -1
		}
	}
	return -1
}

var (
	singleEscapes = map[byte]string{'\\': `\`, '\'': `'`}
	doubleEscapes = map[byte]string{'\\': `\`, '\'': `'`, '"': `"`,
		'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}
)

// unescape decodes backslash pairs left to right, as dotenv's
// decode_escapes does with its escape regex.
func unescape(v string, esc map[byte]string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			if d, ok := esc[v[i+1]]; ok {
				b.WriteString(d)
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func universalNewlines(v string) string {
	if !strings.Contains(v, "\r") {
		return v
	}
	return strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")
}

func (r *reader) skip(keep func(rune) bool) {
	for r.p < len(r.s) {
		c, n := utf8.DecodeRuneInString(r.s[r.p:])
		if !keep(c) {
			return
		}
		r.p += n
	}
}

// blanksLen is the length of dotenv's [^\S\r\n]* at s[p:].
func blanksLen(s string, p int) int {
	r := &reader{s: s, p: p}
	r.skip(func(c rune) bool { return c != '\r' && c != '\n' && isPySpace(c) })
	return r.p - p
}

// isPySpace is Python's str.isspace, which re's \s uses: Go's unicode.IsSpace
// plus the separators U+001C..U+001F.
func isPySpace(c rune) bool {
	return unicode.IsSpace(c) || (c >= 0x1c && c <= 0x1f)
}
