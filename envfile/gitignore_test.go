package envfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var gitignoreTests = []struct {
	name, gitignore string
	want            bool
}{
	{"empty", "", false},
	{"other files", "node_modules/\n*.log\n", false},
	{".env", ".env\n", true},
	{"anchored", "/.env\n", true},
	{".env*", ".env*\n", true},
	{"*.env", "*.env\n", true},
	{"*", "*\n", true},
	{"**", "/**\n", true},
	{"**/.env", "**/.env\n", true},
	{"?env class", ".[e]n?\n", true},
	{"negated class", ".[!x]nv\n", true},
	{"no trailing newline", "node_modules/\n.env", true},
	{"CRLF", "node_modules/\r\n.env\r\n", true},
	{"trailing spaces", ".env  \n", true},
	{"escaped trailing space", ".env\\ \n", false},
	{"leading space is part of the pattern", " .env\n", false},
	{"negation after", ".env\n!.env\n", false},
	{"negation of a wider pattern", "*\n!.env\n", false},
	{"negation by another pattern", ".env*\n!*.env\n", false},
	{"ignored again after negation", ".env\n!.env\n.env*\n", true},
	{"negation before has no effect", "!.env\n.env\n", true},
	{"directory only", ".env/\n", false},
	{"negated directory only", ".env\n!.env/\n", true},
	{"comment", "#.env\n", false},
	{"escaped hash", "\\#.env\n", false},
	{"escaped bang is literal", "\\!.env\n", false},
	{"in a subdirectory", "config/.env\n", false},
	{"any subdirectory", "*/.env\n", false},
	{".env.local only", ".env.local\n", false},
}

func TestGitIgnored(t *testing.T) {
	for _, tt := range gitignoreTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GitIgnored([]byte(tt.gitignore)); got != tt.want {
				t.Errorf("GitIgnored(%q) = %v, want %v", tt.gitignore, got, tt.want)
			}
		})
	}
}

// TestGitIgnoredMatchesGit asks git itself about the same cases.
func TestGitIgnoredMatchesGit(t *testing.T) {
	_, err := exec.LookPath("git")
	requirePeer(t, "git", err)
	home := t.TempDir()
	for _, tt := range gitignoreTests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			git := func(args ...string) error {
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH")}
				return cmd.Run()
			}
			if err := git("init", "-q"); err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string]string{".gitignore": tt.gitignore, ".env": "A=1\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := git("check-ignore", "-q", ".env")
			var xe *exec.ExitError
			if err != nil && !(errors.As(err, &xe) && xe.ExitCode() == 1) {
				t.Fatal(err)
			}
			if gitSays := err == nil; gitSays != tt.want {
				t.Errorf("git check-ignore says ignored=%v for %q, the table %v", gitSays, tt.gitignore, tt.want)
			}
		})
	}
}
