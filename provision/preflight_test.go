package provision

import (
	"errors"
	"net"
	"testing"
)

// TestNoRecords: only "this name has no record of that family" is not a
// problem; a failing DNS server is.
func TestNoRecords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		// Go's answer for an /etc/hosts name with only IPv4 addresses, asked for ip6.
		{&net.AddrError{Err: "no suitable address found", Addr: "shop.test"}, true},
		{&net.DNSError{Err: "no such host", Name: "shop.test", IsNotFound: true}, true},
		{&net.DNSError{Err: "lame referral", Name: "shop.test"}, true},
		{&net.DNSError{Err: "server misbehaving", Name: "shop.test", IsTemporary: true}, false},
		{&net.DNSError{Err: "i/o timeout", Name: "shop.test", IsTimeout: true}, false},
		{errors.New("boom"), false},
	} {
		if got := noRecords(tc.err); got != tc.want {
			t.Errorf("noRecords(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
