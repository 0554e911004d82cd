package templates

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"uvicorn main:app --port 8000", []string{"uvicorn", "main:app", "--port", "8000"}},
		{"  a \t b  ", []string{"a", "b"}},
		{`gunicorn 'app:create_app()' -b 127.0.0.1:8000`, []string{"gunicorn", "app:create_app()", "-b", "127.0.0.1:8000"}},
		{`run "two words" 'single $HOME' "esc \" \\ \$ \x"`, []string{"run", "two words", "single $HOME", `esc " \ $ \x`}},
		{`a\ b c\;d`, []string{"a b", "c;d"}},
		{`x '' ""`, []string{"x", "", ""}},
		{`pre"mid"'post'`, []string{"premidpost"}},
		{"naïve ü", []string{"naïve", "ü"}},
	} {
		got, err := SplitCommand(tc.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitCommandRejects(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "empty command"},
		{"   ", "empty command"},
		{"run 'open", "unterminated ' quote"},
		{`run "open`, `unterminated " quote`},
		{`run \`, "trailing backslash"},
		{"run $PORT", `unquoted '$'`},
		{`run "$PORT"`, "expansion is not supported"},
		{"run `id`", "unquoted '`'"},
		{"a && b", `unquoted '&'`},
		{"a | b", `unquoted '|'`},
		{"a; b", `unquoted ';'`},
		{"a > log", `unquoted '>'`},
		{"a *.py", `unquoted '*'`},
		{"a ~/x", `unquoted '~'`},
		{"a\nb", "control character"},
		{"a 'b\nc'", "control character"},
		{"a \xff", "UTF-8"},
	} {
		_, err := SplitCommand(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("SplitCommand(%q) error = %v, want it to mention %q", tc.in, err, tc.msg)
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/uvicorn": "/usr/bin/uvicorn",
		"main:app":         "main:app",
		"--port=8000":      "--port=8000",
		"two words":        `"two words"`,
		"":                 `""`,
		";":                `";"`,
		"$HOME":            `"$$HOME"`,
		"100%":             `"100%%"`,
		`a"b\c`:            `"a\"b\\c"`,
		"it's":             `"it's"`,
		"é":                `"é"`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
