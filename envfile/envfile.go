// Package envfile reads and writes .env files that both systemd's
// EnvironmentFile= and python-dotenv read the same way. Editing keeps the
// file's other lines, comments and order; values are quoted only when needed,
// with single quotes so neither reader expands "$".
package envfile

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// File is a parsed .env, line by line.
type File struct {
	lines []line
}

type line struct {
	raw   string // for comments and blank lines
	key   string
	value string
}

var keyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Parse reads a .env. Lines it does not understand are kept verbatim.
func Parse(data []byte) *File {
	f := &File{}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return f
	}
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		if !ok || strings.HasPrefix(t, "#") || !keyRe.MatchString(k) {
			f.lines = append(f.lines, line{raw: l})
			continue
		}
		f.lines = append(f.lines, line{key: k, value: unquote(strings.TrimSpace(v))})
	}
	return f
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		r := strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, `\n`, "\n")
		return r.Replace(v[1 : len(v)-1])
	}
	if i := strings.Index(v, " #"); i >= 0 { // inline comment
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// Get returns the value of key and whether it is set (last one wins, as in
// both readers).
func (f *File) Get(key string) (string, bool) {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].key == key {
			return f.lines[i].value, true
		}
	}
	return "", false
}

// Set replaces key's value in place, or appends it.
func (f *File) Set(key, value string) {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].key == key {
			f.lines[i].value = value
			return
		}
	}
	f.lines = append(f.lines, line{key: key, value: value})
}

// Keys lists the keys in file order.
func (f *File) Keys() []string {
	var ks []string
	for _, l := range f.lines {
		if l.key != "" {
			ks = append(ks, l.key)
		}
	}
	return ks
}

// Bytes renders the file.
func (f *File) Bytes() []byte {
	var b strings.Builder
	for _, l := range f.lines {
		if l.key == "" {
			b.WriteString(l.raw + "\n")
			continue
		}
		b.WriteString(l.key + "=" + quote(l.value) + "\n")
	}
	return []byte(b.String())
}

var plainRe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+,=-]*$`)

func quote(v string) string {
	if plainRe.MatchString(v) {
		return v
	}
	if !strings.ContainsAny(v, "'\n\\") {
		return "'" + v + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// Redact returns the file with every value replaced, for diffs and logs.
func Redact(data []byte) []byte {
	f := Parse(data)
	for i := range f.lines {
		if f.lines[i].key != "" && f.lines[i].value != "" {
			f.lines[i].value = "<redacted>"
		}
	}
	return f.Bytes()
}

// NewSecret returns a random key of 48 bytes (384 bits), base64url without
// padding (64 characters) so it is safe unquoted everywhere.
func NewSecret() (string, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Desired is what a caller wants in a .env: Generate keys get a new random
// secret only when absent; Set keys are written as given; Default keys are
// written only when absent.
type Desired struct {
	Generate []string
	Set      map[string]string
	Default  map[string]string
}

// Merge applies d to existing .env content and returns the new content and
// the keys it changed. Existing generated values are never regenerated.
func Merge(existing []byte, d Desired) (out []byte, changed []string, err error) {
	f := Parse(existing)
	for _, k := range d.Generate {
		if v, ok := f.Get(k); ok && v != "" {
			continue
		}
		s, err := NewSecret()
		if err != nil {
			return nil, nil, err
		}
		f.Set(k, s)
		changed = append(changed, k)
	}
	for _, k := range sortedKeys(d.Set) {
		if v, ok := f.Get(k); !ok || v != d.Set[k] {
			f.Set(k, d.Set[k])
			changed = append(changed, k)
		}
	}
	for _, k := range sortedKeys(d.Default) {
		if v, ok := f.Get(k); !ok || v == "" {
			f.Set(k, d.Default[k])
			changed = append(changed, k)
		}
	}
	return f.Bytes(), changed, nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
