// Package envfile reads and writes .env files that systemd's
// EnvironmentFile= (systemd 252) and python-dotenv (0.21, the backend's
// reader) both read the same way. Reading follows python-dotenv exactly
// (dotenv.go); editing keeps every line it does not set byte for byte;
// writing picks a quoting both readers decode to the value, or refuses
// the value (quote.go), and Merge checks the result with a port of
// systemd's parser too (systemd.go).
package envfile

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// File is a parsed .env: its statements with their exact bytes.
type File struct {
	segs []segment
}

// Parse reads a .env. Lines it does not understand are kept verbatim.
func Parse(data []byte) *File {
	return &File{segs: parseDotenv(string(data))}
}

// Get returns key's value as python-dotenv reads it, without ${...}
// interpolation, and whether it is set. The last statement for key wins,
// also when that one has no "=" (dotenv's None: not set).
func (f *File) Get(key string) (string, bool) {
	if i := f.last(key); i >= 0 && f.segs[i].kind == kindBinding {
		return f.segs[i].value, true
	}
	return "", false
}

func (f *File) last(key string) int {
	for i := len(f.segs) - 1; i >= 0; i-- {
		if k := f.segs[i].kind; (k == kindBinding || k == kindNoValue) && f.segs[i].key == key {
			return i
		}
	}
	return -1
}

// Set writes key=value in place of key's last statement, or appends it.
// The rewritten line drops that statement's "export" (systemd ignores
// such lines) and inline comment. It fails, naming the key but never the
// value, when key is no valid name or value has no rendering that systemd
// and python-dotenv read the same.
func (f *File) Set(key, value string) error {
	if !keyRe.MatchString(key) {
		return fmt.Errorf("%q is not a valid variable name (letters, digits and _, not starting with a digit)", key)
	}
	enc, err := encode(value)
	if err != nil {
		return fmt.Errorf("%s: cannot write its value so that systemd and python-dotenv read it the same: %w", key, err)
	}
	if i := f.last(key); i >= 0 {
		s := f.segs[i]
		raw := s.raw[:s.lead] + key + "=" + enc + s.eol()
		f.segs[i] = segment{raw: raw, lead: s.lead, kind: kindBinding, key: key, value: value}
		return nil
	}
	nl := f.newline()
	raw := key + "=" + enc + nl
	lead := 0
	if n := len(f.segs); n > 0 && !strings.HasSuffix(f.segs[n-1].raw, "\n") && !strings.HasSuffix(f.segs[n-1].raw, "\r") {
		raw, lead = nl+raw, len(nl)
	}
	f.segs = append(f.segs, segment{raw: raw, lead: lead, kind: kindBinding, key: key, value: value})
	return nil
}

// newline is the file's line end: the one its first line has.
func (f *File) newline() string {
	b := string(f.Bytes())
	if i := strings.IndexByte(b, '\n'); i > 0 && b[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// Keys lists the keys that have a value, in file order, each once.
func (f *File) Keys() []string {
	var ks []string
	for _, s := range f.segs {
		if s.kind == kindBinding && keyRe.MatchString(s.key) && !slices.Contains(ks, s.key) {
			ks = append(ks, s.key)
		}
	}
	return ks
}

// Bytes renders the file.
func (f *File) Bytes() []byte {
	var b strings.Builder
	for _, s := range f.segs {
		b.WriteString(s.raw)
	}
	return []byte(b.String())
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
// Statements of other keys are kept byte for byte. A key of d whose line
// systemd reads differently from python-dotenv (an inline comment, say) is
// rewritten with python-dotenv's value so both read it. Merge fails, naming
// the key, when a value cannot be written so both read it, or when after
// the merge either reader would not see exactly the intended value (an
// earlier line continued into it).
func Merge(existing []byte, d Desired) (out []byte, changed []string, err error) {
	f := Parse(existing)
	sd, _ := systemdEnv(string(existing))
	want := map[string]string{}
	set := func(k, v string) error {
		want[k] = v
		if err := f.Set(k, v); err != nil {
			return err
		}
		if !slices.Contains(changed, k) {
			changed = append(changed, k)
		}
		return nil
	}
	// keep leaves an existing value alone unless systemd reads it otherwise.
	keep := func(k, v string) error {
		want[k] = v
		if sv, ok := sd[k]; ok && sv == v {
			return nil
		}
		return set(k, v)
	}
	for _, k := range d.Generate {
		if v, ok := f.Get(k); ok && v != "" {
			err = keep(k, v)
		} else {
			var s string
			if s, err = NewSecret(); err == nil {
				err = set(k, s)
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	for _, k := range sortedKeys(d.Set) {
		if v, ok := f.Get(k); ok && v == d.Set[k] {
			err = keep(k, v)
		} else {
			err = set(k, d.Set[k])
		}
		if err != nil {
			return nil, nil, err
		}
	}
	for _, k := range sortedKeys(d.Default) {
		if v, ok := f.Get(k); ok && v != "" {
			err = keep(k, v)
		} else {
			err = set(k, d.Default[k])
		}
		if err != nil {
			return nil, nil, err
		}
	}
	out = f.Bytes()
	if err := verify(out, want); err != nil {
		return nil, nil, err
	}
	return out, changed, nil
}

// verify checks that both readers see exactly want in data.
func verify(data []byte, want map[string]string) error {
	f := Parse(data)
	sd, ok := systemdEnv(string(data))
	if !ok {
		for _, a := range parseSystemd(string(data)) {
			if !systemdUTF8(a.key) || !systemdUTF8(a.value) {
				return fmt.Errorf("%q: invalid UTF-8 or a Unicode noncharacter, for which systemd refuses the whole file", a.key)
			}
		}
	}
	for _, k := range sortedKeys(want) {
		if v, ok := f.Get(k); !ok || v != want[k] {
			return fmt.Errorf("%s: python-dotenv would not read the value written (hint: look for an unclosed quote before it)", k)
		}
		if v, ok := sd[k]; !ok || v != want[k] {
			return fmt.Errorf("%s: systemd would not read the value written (hint: look for a line ending in a backslash or an unclosed quote before it)", k)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
