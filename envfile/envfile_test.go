package envfile

import (
	"slices"
	"strings"
	"testing"
)

const pem = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----"

// TestGet: Get returns what python-dotenv 0.21 reads (TestParserMatchesDotenv
// checks the same files against the real python-dotenv).
func TestGet(t *testing.T) {
	tests := []struct {
		name, file, key, want string
		ok                    bool
	}{
		{"double quotes and an inline comment", `SECRET_KEY="0123456789abcdef" # generated` + "\n", "SECRET_KEY", "0123456789abcdef", true},
		{"single quotes and an inline comment", "QUOTED='a b' # comment\n", "QUOTED", "a b", true},
		{"unquoted inline comment", "A=b # c\n", "A", "b", true},
		{"hash without space is data", "A=b#c\n", "A", "b#c", true},
		{"tab before hash is a comment", "A=b\t#c\n", "A", "b", true},
		{"trailing blanks", "A=b  \t\n", "A", "b", true},
		{"blanks around =", "A \t= \tb\n", "A", "b", true},
		{"escapes in double quotes", `DQ="x\ty\n\"q\" \\ \$"` + "\n", "DQ", "x\ty\n\"q\" \\ \\$", true},
		{"escapes in single quotes", `SQ='it\'s \\ \n'` + "\n", "SQ", `it's \ \n`, true},
		{"export", "export A=1\n", "A", "1", true},
		{"export with blanks", "export \t A=1\n", "A", "1", true},
		{"exportA is a key", "exportA=1\n", "exportA", "1", true},
		{"CRLF", "A=1\r\nB='x y'\r\n", "B", "x y", true},
		{"CRLF in a multi-line value", "A=\"l1\r\nl2\"\r\n", "A", "l1\nl2", true},
		{"multi-line double-quoted PEM", "K=\"" + pem + "\"\nB=2\n", "K", pem, true},
		{"multi-line single-quoted", "K='a\n#b\nc'\n", "K", "a\n#b\nc", true},
		{"duplicate: last wins", "A=1\nA=2\n", "A", "2", true},
		{"no trailing newline", "A=1\nB=last", "B", "last", true},
		{"empty", "A=\n", "A", "", true},
		{"empty quoted", "A=''\n", "A", "", true},
		{"key without =", "A\n", "A", "", false},
		{"key without = after a value", "A=1\nA\n", "A", "", false},
		{"indented", "  A=1\n", "A", "1", true},
		{"quoted key", "'A'=1\n", "A", "1", true},
		{"comment", "#A=1\n", "A", "", false},
		{"missing", "A=1\n", "B", "", false},
		{"unclosed quote is skipped", "A=\"x\nB=2\n", "A", "", false},
		{"line after an unclosed quote", "A=\"x\nB=2\n", "B", "2", true},
		{"text after closing quote is an error", "A='x'y\n", "A", "", false},
		{"no interpolation", "A=${HOME}\n", "A", "${HOME}", true},
		{"trailing backslash, unquoted", "A=x\\\nB=1\n", "A", `x\`, true},
		{"backslash newline in double quotes", "A=\"x\\\ny\"\n", "A", "x\\\ny", true},
		{"run past the end backtracks to the last escaped quote", `A='x\'` + "\n", "A", `x\`, true},
		{"escaped quote swallows the next lines", "A=\"x\\\\\"\nB=\"y\"\n", "A", "", false},
		{"line swallowed by an escaped quote", "A=\"x\\\\\"\nB=\"y\"\n", "B", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse([]byte(tt.file)).Get(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Get(%q) in %q = %q, %v; want %q, %v", tt.key, tt.file, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestParseKeepsBytes: Parse then Bytes gives the file back unchanged.
func TestParseKeepsBytes(t *testing.T) {
	for _, file := range []string{
		"", "\n", "A=1", "A=1\n\n\n", "  \n\t# c\r\nA = 'x' # y\r\nexport B=\"" + pem + "\"\nbad-key=1\n'unclosed\n\n  ",
		"A=\"x\nB=2\rC\r\n", "\xff\xfe=1\n",
	} {
		if got := string(Parse([]byte(file)).Bytes()); got != file {
			t.Errorf("Parse(%q).Bytes() = %q", file, got)
		}
	}
}

// TestMergeKeepsOtherLines: a merge that sets one key leaves every other
// statement byte for byte, multi-line values, quotes, export and inline
// comments included.
func TestMergeKeepsOtherLines(t *testing.T) {
	tests := []struct {
		name, in string
		set      map[string]string
		want     string
	}{
		{
			name: "tester's file",
			in: "# app\nexport A=1\nPEM=\"" + pem + "\"\nQUOTED='a b' # comment\nDQ=\"x\\ty\"\n" +
				"PLAIN=v # note\nbad-key=topsecret\nDUP=1\nDUP=2\n",
			set: map[string]string{"NEW": "n"},
			want: "# app\nexport A=1\nPEM=\"" + pem + "\"\nQUOTED='a b' # comment\nDQ=\"x\\ty\"\n" +
				"PLAIN=v # note\nbad-key=topsecret\nDUP=1\nDUP=2\nNEW=n\n",
		},
		{
			name: "set updates the last duplicate in place",
			in:   "DUP=1\nX=x\nDUP=2\nY=y\n",
			set:  map[string]string{"DUP": "3"},
			want: "DUP=1\nX=x\nDUP=3\nY=y\n",
		},
		{
			name: "set replaces a multi-line value, keeps what is around it",
			in:   "A=1\n\n  PEM=\"" + pem + "\" # old\nB=2\n",
			set:  map[string]string{"PEM": "new"},
			want: "A=1\n\n  PEM=new\nB=2\n",
		},
		{
			name: "rewritten line drops export (systemd ignores export lines)",
			in:   "export A=1\n",
			set:  map[string]string{"A": "2"},
			want: "A=2\n",
		},
		{
			name: "no trailing newline",
			in:   "A=1",
			set:  map[string]string{"B": "2"},
			want: "A=1\nB=2\n",
		},
		{
			name: "no trailing newline, set in place",
			in:   "A=1\nB=1",
			set:  map[string]string{"B": "2"},
			want: "A=1\nB=2",
		},
		{
			name: "CRLF stays CRLF",
			in:   "A=1\r\nB=1\r\n",
			set:  map[string]string{"B": "2", "C": "3"},
			want: "A=1\r\nB=2\r\nC=3\r\n",
		},
		{
			name: "key without = gets its value",
			in:   "A\nB=1\n",
			set:  map[string]string{"A": "x y"},
			want: "A='x y'\nB=1\n",
		},
		{
			name: "unchanged value: nothing rewritten",
			in:   "export A='x y' # same\n",
			set:  map[string]string{},
			want: "export A='x y' # same\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Merge([]byte(tt.in), Desired{Set: tt.set})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out, tt.want)
			}
		})
	}
}

// TestMergeUnchangedValues: keys of d whose value is already right are not
// touched, also when written in another style.
func TestMergeUnchangedValues(t *testing.T) {
	in := "SECRET_KEY=\"0123456789abcdef0123456789abcdef\"\nDB_URL='sqlite:///app.db'\nexport OTHER=1\nTOKEN='a b'\n"
	out, changed, err := Merge([]byte(in), Desired{
		Generate: []string{"SECRET_KEY"},
		Set:      map[string]string{"TOKEN": "a b"},
		Default:  map[string]string{"DB_URL": "other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in || len(changed) != 0 {
		t.Fatalf("changed %v:\n%s", changed, out)
	}
}

// TestMergeRewritesWhatSystemdMisreads: a key of d that systemd reads
// differently (inline comment, dotenv escapes, export) is rewritten with
// python-dotenv's value, which both then read.
func TestMergeRewritesWhatSystemdMisreads(t *testing.T) {
	in := "SECRET_KEY=\"0123456789abcdef0123456789abcdef\" # generated\nexport DB_URL=sqlite:///app.db\nT=\"a\\tb\"\nOTHER=x # untouched\n"
	out, changed, err := Merge([]byte(in), Desired{
		Generate: []string{"SECRET_KEY"},
		Set:      map[string]string{"T": "a\tb"},
		Default:  map[string]string{"DB_URL": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SECRET_KEY=0123456789abcdef0123456789abcdef\nDB_URL=sqlite:///app.db\nT='a\tb'\nOTHER=x # untouched\n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	if !slices.Equal(changed, []string{"SECRET_KEY", "T", "DB_URL"}) {
		t.Errorf("changed %v", changed)
	}
}

func TestMergeGenerates(t *testing.T) {
	in := []byte("# app secrets\nSECRET_KEY=keepme\nOTHER='a b'\n")
	out, changed, err := Merge(in, Desired{Generate: []string{"SECRET_KEY"}, Default: map[string]string{"DB_URL": "sqlite:///app.db"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "# app secrets\nSECRET_KEY=keepme\nOTHER='a b'\nDB_URL=sqlite:///app.db\n"; string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if !slices.Equal(changed, []string{"DB_URL"}) {
		t.Fatalf("changed %v", changed)
	}
	again, changed, _ := Merge(out, Desired{Generate: []string{"SECRET_KEY"}, Default: map[string]string{"DB_URL": "x"}})
	if string(again) != string(out) || len(changed) != 0 {
		t.Fatalf("second merge changed %v:\n%s", changed, again)
	}

	out, _, err = Merge(nil, Desired{Generate: []string{"SECRET_KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Parse(out).Get("SECRET_KEY"); !ok || len(v) != 64 {
		t.Fatalf("secret %q", v)
	}
	out2, _, _ := Merge(nil, Desired{Generate: []string{"SECRET_KEY"}})
	if string(out) == string(out2) {
		t.Fatal("two generated secrets are equal")
	}
}

// TestMergeRefuses: a value no quoting makes both readers agree on, or a
// file where an earlier line would swallow the key, is an error naming the
// key and never showing the value.
func TestMergeRefuses(t *testing.T) {
	tests := []struct {
		name, in, value, wantErr string
	}{
		{"interpolation", "", "pa${HOME}ss", "${...}"},
		{"interpolation with default", "", "x${A:-b}", "${...}"},
		{"carriage return", "", "l1\r\nl2", "carriage return"},
		{"NUL", "", "a\x00b", "NUL"},
		{"invalid UTF-8", "", "a\xffb", "UTF-8"},
		{"noncharacter", "", "a\ufffeb", "noncharacter"},
		{"noncharacter U+FDD0", "", "a\ufdd0b", "noncharacter"},
		{"trailing backslash", "", `C:\dir\`, "backslash"},
		{"trailing backslash with a quote", "", `it's\`, "backslash"},
		{"systemd continues the line before", "A=x\\", "secret", "systemd would not read"},
		{"systemd comment continues into it", "# note \\\n", "secret", "systemd would not read"},
		{"dotenv unclosed quote before", "A='x", "secret s'", "python-dotenv would not read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Merge([]byte(tt.in), Desired{Set: map[string]string{"MY_KEY": tt.value}})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "MY_KEY") || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q does not name MY_KEY and %q", msg, tt.wantErr)
			}
			if strings.Contains(msg, tt.value) {
				t.Errorf("error %q shows the value", msg)
			}
		})
	}
	if _, _, err := Merge([]byte("OLD=\xff\n"), Desired{Set: map[string]string{"A": "1"}}); err == nil || !strings.Contains(err.Error(), `"OLD": invalid UTF-8`) {
		t.Errorf("existing invalid UTF-8: %v", err)
	}
	if _, _, err := Merge(nil, Desired{Set: map[string]string{"bad-key": "v"}}); err == nil {
		t.Error("an invalid name was written")
	}
}

// TestEncode pins the quoting rules (quote.go); TestWriterAgainstPeers
// checks them against the real readers.
func TestEncode(t *testing.T) {
	tests := []struct{ value, want string }{
		{"", ""},
		{"mysql+pymysql://u:p@localhost:3306/db,x=1%20-_.", ""},
		{"a b", "'a b'"},
		{"$HOME and $5", "'$HOME and $5'"},
		{`q"uote`, `'q"uote'`},
		{"a#b", "'a#b'"},
		{" lead and trail ", "' lead and trail '"},
		{"l1\nl2\n", "'l1\nl2\n'"},
		{"tab\there", "'tab\there'"},
		{"ünï ✓", "'ünï ✓'"},
		{"${open", "'${open'"},
		{"it's", `"it's"`},
		{"it's $5", `"it's $5"`},
		{`back\slash`, `"back\\slash"`},
		{`\"`, `"\\\""`},
		{"it's\nmulti", "\"it's\nmulti\""},
		{"`x` \\$y", "\"`x` \\\\$y\""},
	}
	for _, tt := range tests {
		want := tt.want
		if want == "" {
			want = tt.value
		}
		got, err := encode(tt.value)
		if err != nil || got != want {
			t.Errorf("encode(%q) = %q, %v; want %q", tt.value, got, err, want)
		}
	}
}
