package config

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/myapp/myapp/internal/capped"
)

// TestCappedPatternsMatchTheBoundedOnes: each capped.Re accepts exactly
// what the x{0,n} pattern it replaced accepts.
func TestCappedPatternsMatchTheBoundedOnes(t *testing.T) {
	for _, tc := range []struct {
		got  capped.Re
		want string
	}{
		{appRe, `^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`},
		{labelRe, `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`},
		{hostNameRe, `^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`},
		{userRe, `^[a-z_][a-z0-9_.-]{0,31}$`},
		{profileRe, `^[a-z0-9][a-z0-9_-]{0,63}$`},
	} {
		want := regexp.MustCompile(tc.want)
		for _, s := range cappedSamples() {
			if g, w := tc.got.MatchString(s), want.MatchString(s); g != w {
				t.Errorf("%s: %q matches %v, want %v (as %s)", tc.got, s, g, w, tc.want)
			}
		}
	}
}

// cappedSamples are strings of every length around the limits, from the
// characters the patterns distinguish.
func cappedSamples() []string {
	const chars = "az09AZ-_.@ é\n"
	r := rand.New(rand.NewPCG(1, 2))
	out := []string{""}
	for n := 1; n <= 70; n++ {
		for _, c := range []string{"a", "-", "_", "."} {
			out = append(out, strings.Repeat(c, n), "a"+strings.Repeat(c, n-1), strings.Repeat(c, n-1)+"a")
		}
		for range 300 {
			var b strings.Builder
			for b.Len() < n {
				b.WriteString(string([]rune(chars)[r.IntN(len([]rune(chars)))]))
			}
			out = append(out, b.String())
		}
	}
	return out
}
