package templates

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportsNothingOfOurs enforces the layering in STYLE.md: templates
// only renders, so provision and cmd may import it, never the reverse.
func TestImportsNothingOfOurs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if strings.HasPrefix(strings.Trim(imp.Path.Value, `"`), "github.com/myapp/myapp") {
				t.Errorf("%s imports %s", f, imp.Path.Value)
			}
		}
	}
}

// breakout are characters that would end or extend an nginx directive or a
// unit file line if they reached one unquoted.
const breakout = ";{}\"'$ \t\r\n\\#%"

// FuzzSiteFields: whatever a config file holds, a value either is refused
// or is free of characters that could break out of its directive.
func FuzzSiteFields(f *testing.F) {
	f.Add("shop.example.com", "/var/www/shop/current", "http://127.0.0.1:8000")
	f.Add("a;b", "/x{y}", "http://127.0.0.1:8000;return 200")
	f.Add("*.example.com", "/srv/app", "http://[::1]:8000/")
	f.Fuzz(func(t *testing.T, domain, root, upstream string) {
		s := exampleSite(true, "1.26.0")
		s.Domains, s.Root, s.APIUpstream = []string{domain}, root, upstream
		if _, err := RenderSite(s); err != nil {
			return
		}
		for _, v := range []string{domain, root, upstream} {
			if strings.ContainsAny(v, breakout) {
				t.Errorf("accepted %q", v)
			}
		}
	})
}

// FuzzAPICommand: a command SplitCommand accepts either is refused by
// RenderAPIUnit or renders into exactly one ExecStart line that reads back
// as the same argv under systemd's quoting rules.
func FuzzAPICommand(f *testing.F) {
	f.Add(`uvicorn main:app --port 8000`)
	f.Add(`run "a b" 'c$d' e\ f "100%" 'x\'`)
	f.Add("x '\n'")
	f.Fuzz(func(t *testing.T, command string) {
		argv, err := SplitCommand(command)
		if err != nil {
			return
		}
		argv[0] = "/usr/bin/prog"
		unit, err := RenderAPIUnit(APIUnit{App: "shop", Argv: argv})
		if err != nil {
			return
		}
		var lines []string
		for _, line := range strings.Split(string(unit), "\n") {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				lines = append(lines, v)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%q renders %d ExecStart lines", command, len(lines))
		}
		got, ok := readExec(lines[0])
		want := make([]string, len(argv))
		for i, a := range argv {
			want[i] = strings.NewReplacer("$", "$$", "%", "%%").Replace(a)
		}
		if !ok || !slices.Equal(got, want) {
			t.Errorf("%q renders ExecStart=%s, read back as %q (ok %v), want %q", command, lines[0], got, ok, want)
		}
	})
}

// readExec splits an ExecStart value the way systemd does for what
// systemdQuote emits: blanks separate words, "..." groups, and a backslash
// inside quotes escapes the next character. "$$" and "%%" stay doubled
// (systemd undoes them later). It reports false for unbalanced quotes.
func readExec(s string) ([]string, bool) {
	var argv []string
	var word strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted, inWord = !quoted, true
		case !quoted && r == ' ':
			if inWord {
				argv, inWord = append(argv, word.String()), false
				word.Reset()
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		argv = append(argv, word.String())
	}
	return argv, !quoted && !escaped
}
