package acme

import (
	"errors"
	"testing"
)

// TestRefusedReplaces: the answers of CAs that refuse an order's
// "replaces" field are recognised (then myapp orders without it); other
// refusals are not.
func TestRefusedReplaces(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		// Pebble, restarted with a new issuer.
		{"acme: error: 400 :: POST :: https://127.0.0.1:14000/order-plz :: urn:ietf:params:acme:error:malformed :: parsing ARI CertID failed: urn:ietf:params:acme:error:malformed :: no known issuer matches the provided Authority Key Identifier", true},
		// Boulder, when the certificate was replaced already.
		{"acme: error: 409 :: POST :: https://acme-v02.api.letsencrypt.org/acme/new-order :: urn:ietf:params:acme:error:alreadyReplaced :: cannot indicate an order replaces certificate with serial ..., which already has a replacement order", true},
		{"acme: error: 429 :: POST :: new-order :: urn:ietf:params:acme:error:rateLimited :: too many certificates", false},
		{"acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: Invalid response from http://shop.test/.well-known/acme-challenge/x", false},
	} {
		if got := refusedReplaces(errors.New(tc.msg)); got != tc.want {
			t.Errorf("refusedReplaces(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
