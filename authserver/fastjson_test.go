package authserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var payloadCases = []string{
	// As mintAccess writes them, with and without an audience.
	`{"sid":"druio-NmxmWEb5p1NvQ10Q","iss":"myapp/test","sub":"alice","exp":1796371628,"iat":1796370728,"jti":"Zm9vYmFyYmF6cXV4"}`,
	`{"sid":"s","iss":"myapp/test","sub":"alice","aud":["shop-api"],"exp":1,"iat":0,"jti":"j"}`,
	`{"aud":"one"}`, `{"aud":["a","b"]}`, `{"aud":[]}`, `{"aud":null}`, `{"aud":[1]}`, `{"aud":["a",]}`,
	`{}`, `{"sub":""}`, `{"nbf":5}`, `{"exp":0}`, `{"exp":123456789012345}`, `{"exp":1234567890123456}`,
	// Last of duplicates wins, for encoding/json and the fast path alike.
	`{"sub":"a","sub":"b"}`, `{"exp":1,"exp":2}`, `{"aud":"a","aud":["b"]}`,
	// Declined: encoding/json decides.
	`{"sub":"a\"b"}`, `{"sub":"a\\b"}`, `{"sub":"\u0061"}`, `{"sub":"é"}`, "{\"sub\":\"a\x7fb\"}", "{\"sub\":\"a\x01\"}",
	`{"SUB":"x"}`, `{"Exp":1}`, `{"other":"x"}`, `{"sub":1}`, `{"sub":null}`, `{"exp":null}`, `{"exp":"1"}`,
	`{"exp":-1}`, `{"exp":01}`, `{"exp":1.5}`, `{"exp":1e3}`, `{"exp":1E3}`, `{"exp":1x}`, `{"exp":}`,
	`{ "sub":"a"}`, `{"sub" :"a"}`, `{"sub":"a" }`, `{"sub":"a",}`, `{,"sub":"a"}`, `{"sub":"a""iss":"b"}`,
	`{"sub":"a"}x`, `x{"sub":"a"}`, `{"sub":"a"`, `"sub"`, `[]`, `{`, `}`, ``, `{"sub":{"a":1}}`, `{"sub":"a}`,
	`{"exp":99999999999999999999999}`, `{"iat":1796370728,"nbf":1796370728,"exp":1796371628}`,
}

func newWire() *wireClaims {
	nan := numericDate(math.NaN())
	return &wireClaims{Sub: "old", wireDates: wireDates{nan, nan, nan}}
}

// checkPayload fails unless decodeOwnPayload either declined, leaving w
// untouched, or did exactly what json.Unmarshal does.
func checkPayload(t *testing.T, payload []byte) {
	t.Helper()
	fast, ref := newWire(), newWire()
	before := fmt.Sprintf("%+v", *fast)
	if !decodeOwnPayload(payload, fast) {
		if got := fmt.Sprintf("%+v", *fast); got != before {
			t.Fatalf("%q: declined but changed the claims to %s", payload, got)
		}
		return
	}
	if err := json.Unmarshal(payload, ref); err != nil {
		t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", payload, err)
	}
	// %+v prints NaN as NaN, which == would not match.
	if got, want := fmt.Sprintf("%+v", *fast), fmt.Sprintf("%+v", *ref); got != want {
		t.Fatalf("%q:\nfast path     %s\nencoding/json %s", payload, got, want)
	}
}

func TestDecodeOwnPayloadMatchesEncodingJSON(t *testing.T) {
	for _, p := range payloadCases {
		checkPayload(t, []byte(p))
	}
	// Our own tokens take the fast path.
	s := newEnv(t).srv
	for _, aud := range []string{"", "shop-api"} {
		s.opts.Audience = aud
		tok, err := s.mintAccess("alice", newID(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if !decodeOwnPayload(payload, newWire()) {
			t.Errorf("our own payload %s took the slow path", payload)
		}
		checkPayload(t, payload)
	}
}

func FuzzDecodeOwnPayload(f *testing.F) {
	for _, p := range payloadCases {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) { checkPayload(t, payload) })
}

func checkMe(t *testing.T, m meResponse) {
	t.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(m); err != nil {
		t.Fatal(err)
	}
	if got := appendMe(nil, &m); got != nil && !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendMe(%+v):\n%s\nencoding/json:\n%s", m, got, want.Bytes())
	}
}

func TestAppendMeMatchesEncodingJSON(t *testing.T) {
	plain := meResponse{Sub: "alice", SID: "sid", Iss: "myapp/shop", Iat: 1796370728, Exp: 1796371628}
	if appendMe(nil, &plain) == nil {
		t.Fatal("a plain /me answer took the slow path")
	}
	for _, m := range []meResponse{
		plain,
		{Sub: "alice", Aud: []string{"a", "b"}, Iat: -1},
		{Sub: "a<b>&c"}, {Sub: `q"uote`}, {Iss: `back\slash`}, {Sub: "élan"}, {Sub: "\u2028"}, {Sub: "\x7f"},
		{Sub: "a\x00"}, {Sub: "\xff"}, {Aud: []string{"<"}}, {Aud: []string{}}, {},
	} {
		checkMe(t, m)
	}
}

func FuzzAppendMe(f *testing.F) {
	f.Add("alice", "sid", "myapp/shop", "", int64(1796370728), int64(1796371628))
	f.Add("a<b", "s\"", "\\", "aud", int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, sub, sid, iss, aud string, iat, exp int64) {
		m := meResponse{Sub: sub, SID: sid, Iss: iss, Iat: iat, Exp: exp}
		if aud != "" {
			m.Aud = strings.Split(aud, ",")
		}
		checkMe(t, m)
	})
}
