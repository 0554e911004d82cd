package envfile

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"values, comment kept", "SECRET_KEY=abc\n# note\nDB_URL=mysql://u:pw@h/db\n", "SECRET_KEY=<redacted>\n# note\nDB_URL=<redacted>\n"},
		{"multi-line value is one line", "PEM=\"" + pem + "\"\nB=2\n", "PEM=<redacted>\nB=<redacted>\n"},
		{"multi-line single-quoted", "A='x\n#y\nz'\n", "A=<redacted>\n"},
		{"invalid name", "bad-key=topsecret\n", "<unparsed line redacted>\n"},
		{"no =", "topsecret\n", "<unparsed line redacted>\n"},
		{"unclosed quote", "A=\"x\nB=2\n", "<unparsed line redacted>\nB=<redacted>\n"},
		{"text after quote", "A='x'y\n", "<unparsed line redacted>\n"},
		{"comment systemd reads as a value", "A=x\\\n#continued\nB=1\n", "A=<redacted>\n<unparsed line redacted>\nB=<redacted>\n"},
		{"inline comment goes", "A=1 # was 0\n", "A=<redacted>\n"},
		{"export kept", "export A=1\n", "export A=<redacted>\n"},
		{"empty value", "A=\n", "A=<redacted>\n"},
		{"blank lines and indentation", "\n  A=1\n\n\t# c\n", "\n  A=<redacted>\n\n\t# c\n"},
		{"CRLF", "A=1\r\n# c\r\nB=2", "A=<redacted>\r\n# c\r\nB=<redacted>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Redact([]byte(tt.in))); got != tt.want {
				t.Errorf("Redact(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRedactHidesEverySecret: every value below contains "s3cr3t" and so
// does every line that is no comment; none may survive.
func TestRedactHidesEverySecret(t *testing.T) {
	in := strings.Join([]string{
		"# comments may stay",
		"A=s3cr3t",
		"export B='s3cr3t one' # c",
		"C=\"-----BEGIN s3cr3t-----\nline s3cr3t\n#s3cr3t\n-----END-----\"",
		"D='multi\ns3cr3t\nlines'",
		"bad-key=s3cr3t",
		"s3cr3t",
		"E=\"unclosed s3cr3t",
		"F='x'y s3cr3t",
		"G=x\\",
		"#s3cr3t continued by systemd",
		"H=\"p\\\\\"",
		"s3cr3t swallowed by dotenv\"",
		"'I'=s3cr3t",
		";J=s3cr3t",
		"  K  =  s3cr3t  ",
		"L=s3cr3t\r",
		"M=s3cr3t",
	}, "\n")
	for _, out := range [][]byte{Redact([]byte(in)), func() []byte { _, n := RedactPair(nil, []byte(in)); return n }()} {
		if strings.Contains(string(out), "s3cr3t") {
			t.Errorf("a secret survived:\n%s", out)
		}
	}
}

func TestRedactPair(t *testing.T) {
	tests := []struct{ name, old, new, wantOld, wantNew string }{
		{"value change shows", "A=1\nB=2\n", "A=1\nB=3\n", "A=<redacted>\nB=<redacted>\n", "A=<redacted>\nB=<redacted, changed>\n"},
		{"added key", "A=1\n", "A=1\nC=3\n", "A=<redacted>\n", "A=<redacted>\nC=<redacted>\n"},
		{"new file", "", "A=1\n", "", "A=<redacted>\n"},
		{"last duplicate changed", "D=1\nD=2\n", "D=1\nD=3\n", "D=<redacted>\nD=<redacted>\n", "D=<redacted>\nD=<redacted, changed>\n"},
		{"rewritten line", "A=1 # c\n", "A=1\n", "A=<redacted>\n", "A=<redacted, changed>\n"},
		{"unchanged", "A=1\n# c\n", "A=1\n# c\n", "A=<redacted>\n# c\n", "A=<redacted>\n# c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, n := RedactPair([]byte(tt.old), []byte(tt.new))
			if string(o) != tt.wantOld || string(n) != tt.wantNew {
				t.Errorf("RedactPair =\n%q\n%q\nwant\n%q\n%q", o, n, tt.wantOld, tt.wantNew)
			}
		})
	}
}
