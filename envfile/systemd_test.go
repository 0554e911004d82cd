package envfile

import (
	"maps"
	"testing"
)

// TestSystemdParser pins the systemd port on the cases that differ from
// python-dotenv; TestParsersMatchPeers checks it against systemd itself.
func TestSystemdParser(t *testing.T) {
	tests := []struct {
		name, file string
		want       map[string]string
	}{
		{"inline comment is data", "A=b # c\n", map[string]string{"A": "b # c"}},
		{"text after a closing quote goes on", "A='a b' # c\nB='x'y\n", map[string]string{"A": "a b# c", "B": "xy"}},
		{"double-quote escapes", `A="x\ty \" \\ \$ \` + "`" + `"` + "\n", map[string]string{"A": `x\ty " \ $ ` + "`"}},
		{"single quotes are verbatim", `A='x\ty \\'` + "\n", map[string]string{"A": `x\ty \\`}},
		{"multi-line quotes", "A='l1\nl2'\nB=\"l3\nl4\"\n", map[string]string{"A": "l1\nl2", "B": "l3\nl4"}},
		{"continuation in double quotes", "A=\"x\\\ny\"\n", map[string]string{"A": "xy"}},
		{"unquoted continuation swallows the next line", "A=a\\\nB=b\n", map[string]string{"A": "aB=b"}},
		{"comment continuation swallows the next line", "#c\\\nA=1\nB=2\n", map[string]string{"B": "2"}},
		{"semicolon comment", "; A=1\n", map[string]string{}},
		{"export is ignored", "export A=1\n", map[string]string{}},
		{"invalid names are ignored", "bad-key=1\n1A=2\n", map[string]string{}},
		{"blanks around key and value", "  A \t= \t b c \t\n", map[string]string{"A": "b c"}},
		{"CR ends a line outside quotes, stays inside", "A=1\r\nB=\"x\r\ny\"\r\n", map[string]string{"A": "1", "B": "x\r\ny"}},
		{"last wins, no trailing newline", "A=1\nA=2", map[string]string{"A": "2"}},
		{"unclosed quote runs to the end", "A='x\nB=2\n", map[string]string{"A": "x\nB=2\n"}},
		{"no interpolation", "A=${HOME} $HOME\n", map[string]string{"A": "${HOME} $HOME"}},
		{"key without =", "A\nB=\n", map[string]string{"B": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := systemdEnv(tt.file)
			if !ok || !maps.Equal(got, tt.want) {
				t.Errorf("systemdEnv(%q) = %q, %v; want %q", tt.file, got, ok, tt.want)
			}
		})
	}
	for _, file := range []string{"A=\xff\n", "A=\ufffe\n", "A='\U0010ffff'\n", "A=\ufdd0\n"} {
		if _, ok := systemdEnv(file); ok {
			t.Errorf("%q accepted", file)
		}
	}
	if _, ok := systemdEnv("A='\ufeff'\n#\ufffe\n"); !ok {
		t.Error("a byte order mark in a value, or a noncharacter in a comment, refused")
	}
}
