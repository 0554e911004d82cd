package envfile

import (
	"strings"
	"testing"
)

func TestMergeKeepsExisting(t *testing.T) {
	in := []byte("# app secrets\nSECRET_KEY=keepme\nOTHER='a b'\n")
	out, changed, err := Merge(in, Desired{Generate: []string{"SECRET_KEY"}, Default: map[string]string{"DB_URL": "sqlite:///app.db"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "# app secrets\nSECRET_KEY=keepme\nOTHER='a b'\nDB_URL=sqlite:///app.db\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if len(changed) != 1 || changed[0] != "DB_URL" {
		t.Fatalf("changed %v", changed)
	}
	again, changed, _ := Merge(out, Desired{Generate: []string{"SECRET_KEY"}, Default: map[string]string{"DB_URL": "x"}})
	if string(again) != string(out) || len(changed) != 0 {
		t.Fatalf("second merge changed %v:\n%s", changed, again)
	}
}

func TestGenerate(t *testing.T) {
	out, _, err := Merge(nil, Desired{Generate: []string{"SECRET_KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := Parse(out).Get("SECRET_KEY")
	if !ok || len(v) != 64 {
		t.Fatalf("secret %q", v)
	}
	out2, _, _ := Merge(nil, Desired{Generate: []string{"SECRET_KEY"}})
	if string(out) == string(out2) {
		t.Fatal("two generated secrets are equal")
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", "mysql+pymysql://u:p@localhost/db", "has space", "dollar$HOME", "it's", `back\slash`, `q"uote`, "a#b"} {
		f := &File{}
		f.Set("K", v)
		got, _ := Parse(f.Bytes()).Get("K")
		if got != v {
			t.Errorf("%q: rendered %q, read back %q", v, f.Bytes(), got)
		}
	}
}

func TestRedact(t *testing.T) {
	out := string(Redact([]byte("SECRET_KEY=abc\n# note\nDB_URL=mysql://u:pw@h/db\n")))
	if strings.Contains(out, "abc") || strings.Contains(out, "pw") || !strings.Contains(out, "# note") {
		t.Fatalf("redacted: %s", out)
	}
}
