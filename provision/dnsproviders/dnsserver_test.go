package dnsproviders

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zoneServer is a small authoritative DNS server for one zone, on a loopback
// UDP port: it answers queries from its records (with CNAMEs, NXDOMAIN and
// the SOA in the authority section as a real server would) and applies RFC
// 2136 dynamic updates signed with its one TSIG key. Anything it does not
// implement (prerequisites, unsigned or foreign-zone updates) it refuses, so
// a test cannot pass on behaviour a real server would reject.
type zoneServer struct {
	zone    string // fully qualified, e.g. "example.test."
	addr    string
	keyName string // fully qualified TSIG key name
	secret  string // base64

	mu      sync.Mutex
	records []dns.RR
	updates int // accepted UPDATE messages
}

func startZoneServer(t *testing.T, zone, keyName, secret string) *zoneServer {
	t.Helper()
	z := &zoneServer{zone: dns.Fqdn(zone), keyName: dns.Fqdn(keyName), secret: secret}
	z.records = append(z.records,
		mustRR(t, z.zone+" 300 IN SOA ns1."+z.zone+" hostmaster."+z.zone+" 1 3600 600 86400 60"),
		mustRR(t, z.zone+" 300 IN NS ns1."+z.zone),
	)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.addr = pc.LocalAddr().String()
	started := make(chan struct{})
	srv := &dns.Server{
		PacketConn:        pc,
		Handler:           z,
		TsigSecret:        map[string]string{z.keyName: secret},
		MsgAcceptFunc:     acceptQueryAndUpdate,
		NotifyStartedFunc: func() { close(started) },
	}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return z
}

// acceptQueryAndUpdate lets UPDATE messages through, which miekg/dns's
// default filter rejects (their sections may hold many records).
func acceptQueryAndUpdate(h dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if h.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	switch op := int(h.Bits>>11) & 0xF; {
	case op != dns.OpcodeQuery && op != dns.OpcodeUpdate:
		return dns.MsgRejectNotImplemented
	case h.Qdcount != 1:
		return dns.MsgReject
	}
	return dns.MsgAccept
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func (z *zoneServer) add(rr dns.RR) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.records = append(z.records, rr)
}

// txt returns the TXT strings stored at name.
func (z *zoneServer) txt(name string) []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	for _, rr := range z.records {
		if t, ok := rr.(*dns.TXT); ok && strings.EqualFold(t.Hdr.Name, name) {
			out = append(out, t.Txt...)
		}
	}
	return out
}

func (z *zoneServer) acceptedUpdates() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.updates
}

func (z *zoneServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
	} else if r.Opcode == dns.OpcodeUpdate {
		m.Rcode = z.update(w, r)
		if t := r.IsTsig(); t != nil && m.Rcode != dns.RcodeNotAuth {
			m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
	} else {
		z.answer(m, r.Question[0])
	}
	_ = w.WriteMsg(m)
}

func (z *zoneServer) inZone(name string) bool {
	return dns.IsSubDomain(z.zone, dns.Fqdn(name))
}

func (z *zoneServer) update(w dns.ResponseWriter, r *dns.Msg) int {
	t := r.IsTsig()
	if t == nil || w.TsigStatus() != nil || !strings.EqualFold(t.Hdr.Name, z.keyName) {
		return dns.RcodeNotAuth
	}
	if !strings.EqualFold(r.Question[0].Name, z.zone) || r.Question[0].Qtype != dns.TypeSOA {
		return dns.RcodeNotZone
	}
	if len(r.Answer) > 0 { // prerequisites: not implemented
		return dns.RcodeNotImplemented
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, u := range r.Ns {
		h := u.Header()
		if !z.inZone(h.Name) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassINET: // add
			z.records = append(z.records, dns.Copy(u))
		case dns.ClassANY: // delete an RRset, or every RRset at the name
			z.remove(func(rr dns.RR) bool {
				return strings.EqualFold(rr.Header().Name, h.Name) &&
					(h.Rrtype == dns.TypeANY || rr.Header().Rrtype == h.Rrtype)
			})
		case dns.ClassNONE: // delete one RR
			want := dns.Copy(u)
			want.Header().Class = dns.ClassINET
			z.remove(func(rr dns.RR) bool { return dns.IsDuplicate(rr, want) })
		default:
			return dns.RcodeFormatError
		}
	}
	z.updates++
	return dns.RcodeSuccess
}

func (z *zoneServer) remove(match func(dns.RR) bool) {
	kept := z.records[:0]
	for _, rr := range z.records {
		if !match(rr) {
			kept = append(kept, rr)
		}
	}
	z.records = kept
}

func (z *zoneServer) answer(m *dns.Msg, q dns.Question) {
	if !z.inZone(q.Name) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	exists := false
	var soa dns.RR
	for _, rr := range z.records {
		h := rr.Header()
		if h.Rrtype == dns.TypeSOA {
			soa = rr
		}
		if dns.IsSubDomain(dns.Fqdn(q.Name), h.Name) {
			exists = true // the name, or an empty non-terminal above a record
		}
		if !strings.EqualFold(h.Name, q.Name) {
			continue
		}
		if h.Rrtype == q.Qtype || h.Rrtype == dns.TypeCNAME {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, dns.Copy(soa))
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
	}
}
