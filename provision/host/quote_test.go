package host

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// nasty are arguments that break naive quoting; the same list checks the
// transports end to end in hosttest.
var nasty = []string{
	"", " ", "a b", "'", `"`, `'"'"'`, "$(id)", "`id`", "$HOME", "${HOME}",
	"a\nb", "\n", "\t", ";", "; rm -rf /", "&&", "|", ">out", "<in", "*", "?",
	"~", "~root", "a=b", "=cmd", "!", "!!", "#c", "{a,b}", "\\", "\\'", "--",
	"-n", "-e", "%s", "é✓", "\x01\x7f", "'$(id)'", "a'b\"c$d`e\\f",
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"/etc/nginx/sites-available/shop.conf", "/etc/nginx/sites-available/shop.conf"},
		{"user@host:22,x+y%", "user@host:22,x+y%"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(id)", "'$(id)'"},
		{"a=b", "'a=b'"},
		{"~", "'~'"},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := ShellJoin([]string{"printf", "%s\n", "a b"}), `printf '%s
' 'a b'`; got != want {
		t.Errorf("ShellJoin = %s, want %s", got, want)
	}
}

// TestShellQuoteRoundTrip feeds quoted words to every POSIX-ish shell on
// this machine and checks that each arrives as exactly the word we meant.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "busybox"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		t.Run(sh, func(t *testing.T) {
			argv := []string{path, "-c", "printf '%s\\0' " + ShellJoin(nasty)}
			if sh == "busybox" {
				argv = slices.Insert(argv, 1, "sh")
			}
			out, err := exec.Command(argv[0], argv[1:]...).Output()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			if !slices.Equal(got, nasty) {
				t.Errorf("got  %q\nwant %q", got, nasty)
			}
		})
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("argv cannot hold NUL")
		}
		out, err := exec.CommandContext(context.Background(), "sh", "-c", "printf %s "+ShellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("sh got %q, want %q", out, s)
		}
	})
}

func TestCommandArgv(t *testing.T) {
	tests := []struct {
		name string
		c    Cmd
		sudo bool
		want []string
	}{
		{"plain", Cmd{Argv: []string{"id", "-u"}}, false, []string{"id", "-u"}},
		{"sudo", Cmd{Argv: []string{"id", "-u"}}, true, []string{"sudo", "-n", "--", "id", "-u"}},
		{"env", Cmd{Argv: []string{"id"}, Env: []string{"A=1 2"}}, true,
			[]string{"sudo", "-n", "--", "env", "--", "A=1 2", "id"}},
		{"env and = in command", Cmd{Argv: []string{"/opt/a=b"}, Env: []string{"A="}}, false,
			[]string{"env", "--", "A=", "sh", "-c", `exec "$@"`, "sh", "/opt/a=b"}},
	}
	for _, tt := range tests {
		got, err := commandArgv(tt.c, tt.sudo)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: commandArgv = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []Cmd{
		{},
		{Argv: []string{""}},
		{Argv: []string{"a\x00b"}},
		{Argv: []string{"id"}, Env: []string{"NOEQUALS"}},
		{Argv: []string{"id"}, Env: []string{"1A=x"}},
		{Argv: []string{"id"}, Env: []string{"A B=x"}},
	} {
		if _, err := commandArgv(bad, false); err == nil {
			t.Errorf("commandArgv(%q) succeeded, want an error", bad.Argv)
		}
	}
}
