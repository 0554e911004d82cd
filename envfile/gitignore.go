package envfile

import (
	"path"
	"strings"
)

// GitIgnored reports whether a .gitignore with this content ignores the
// .env file beside it. The lines are evaluated in order with git's rules
// (gitignore(5)) and the last matching one wins, so ".env" followed by
// "!.env" leaves it tracked. Only this file counts: .git/info/exclude and
// a user's global excludes do not travel with the project, so a teammate's
// clone would still commit the .env.
func GitIgnored(gitignore []byte) bool {
	return gitIgnores(string(gitignore), ".env")
}

// gitIgnores evaluates gitignore for a file named name (no slash) in the
// .gitignore's own directory.
func gitIgnores(gitignore, name string) bool {
	ignored := false
	for _, line := range strings.Split(gitignore, "\n") {
		p := trimTrailingSpaces(strings.TrimSuffix(line, "\r"))
		if p == "" || p[0] == '#' {
			continue
		}
		negate := p[0] == '!'
		if negate {
			p = p[1:]
		}
		if p == "" || strings.HasSuffix(p, "/") {
			continue // a directory-only pattern never matches a file
		}
		if matchHere(p, name) {
			ignored = !negate
		}
	}
	return ignored
}

// matchHere matches pattern p against a file in the .gitignore's directory.
// A pattern with a slash is relative to that directory; "**/" matches no
// directory too. One without a slash matches the name at any depth.
func matchHere(p, name string) bool {
	if strings.Contains(p, "/") {
		p = strings.TrimPrefix(p, "/")
		for strings.HasPrefix(p, "**/") {
			p = p[len("**/"):]
		}
		if strings.Contains(p, "/") {
			return false // names a file in a subdirectory
		}
	}
	// git's [!a] is path.Match's [^a]; without slashes, ** is *.
	ok, err := path.Match(strings.ReplaceAll(p, "[!", "[^"), name)
	return err == nil && ok
}

// trimTrailingSpaces drops trailing spaces unless escaped with "\".
func trimTrailingSpaces(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		bs := 0
		for i := end - 2; i >= 0 && s[i] == '\\'; i-- {
			bs++
		}
		if bs%2 == 1 {
			break
		}
		end--
	}
	return s[:end]
}
