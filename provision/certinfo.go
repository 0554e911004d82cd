package provision

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// certInfo is the part of an installed certificate renewal decisions use.
type certInfo struct {
	serial              string
	names               []string
	notBefore, notAfter time.Time
	leaf                *x509.Certificate
}

func newCertInfo(leaf *x509.Certificate) *certInfo {
	if leaf == nil {
		return nil
	}
	return &certInfo{serial: fmt.Sprintf("%x", leaf.SerialNumber), names: leaf.DNSNames,
		notBefore: leaf.NotBefore, notAfter: leaf.NotAfter, leaf: leaf}
}

func (c *certInfo) missing(domains []string) string {
	for _, d := range domains {
		if !slices.Contains(c.names, d) {
			return d
		}
	}
	return ""
}

func (c *certInfo) short() bool { return c.notAfter.Sub(c.notBefore) <= 10*24*time.Hour }

// lifetimeRenewAt is when a third (short certificates: half) of the
// lifetime is left.
func (c *certInfo) lifetimeRenewAt() time.Time {
	life := c.notAfter.Sub(c.notBefore)
	left := life / 3
	if c.short() {
		left = life / 2
	}
	// Whole seconds (a little earlier, never later), as certificates give
	// their dates: JSON shows no fraction.
	return c.notAfter.Add(-left).Truncate(time.Second)
}
