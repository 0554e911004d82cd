package host

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is the error for a host key that could not be verified:
// unknown (not on record) or different from the one on record.
type HostKeyError struct {
	Host        string   // the host's name in messages
	Address     string   // host:port as dialed
	Key         string   // offered key, authorized_keys format ("ssh-ed25519 AAAA...")
	Fingerprint string   // offered key's SHA256 fingerprint
	Known       []string // fingerprints on record for the host; empty when unknown
	Source      string   // the known_hosts file, or "host_key" when pinned
	Revoked     bool     // the offered key is marked @revoked
}

// Mismatch reports whether a different key is on record for the host,
// which may mean that the connection is being intercepted.
func (e *HostKeyError) Mismatch() bool { return len(e.Known) > 0 }

func (e *HostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Address)
	var b strings.Builder
	switch {
	case e.Revoked:
		fmt.Fprintf(&b, "host key %s of %s is marked @revoked in %s", e.Fingerprint, e.Address, e.Source)
	case e.Mismatch():
		// Upper case on purpose, as in ssh's own warning: this message may
		// be the only sign of a man-in-the-middle and must not be skimmed.
		record := e.Source + " has " + strings.Join(e.Known, ", ") + " for it"
		if e.Source == "host_key" {
			record = "host_key pins " + strings.Join(e.Known, ", ")
		}
		fmt.Fprintf(&b, "HOST KEY MISMATCH for %s: the server offers %s %s, but %s\n"+
			"someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled\n",
			e.Address, keyType(e.Key), e.Fingerprint, record)
		if e.Source == "host_key" {
			b.WriteString("hint: verify the new fingerprint with the host's owner, then update host_key")
		} else {
			fmt.Fprintf(&b, "hint: verify the new fingerprint with the host's owner, then drop the old entry with "+
				"ssh-keygen -R %s -f %s", ShellQuote(knownhosts.Normalize(e.Address)), ShellQuote(e.Source))
		}
	default:
		fmt.Fprintf(&b, "unknown host key for %s: %s %s (not in %s)\n"+
			"hint: compare the fingerprint with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub on it), then trust it with\n"+
			"  ssh-keyscan -p %s %s >> %s\n"+
			"or pin it: host_key = %q",
			e.Address, keyType(e.Key), e.Fingerprint, e.Source, keyFileKind(e.Key),
			port, ShellQuote(host), ShellQuote(e.Source), e.Key)
	}
	return b.String()
}

func keyType(authorized string) string { t, _, _ := strings.Cut(authorized, " "); return t }

// keyFileKind maps a key type to the name sshd gives its host key file.
func keyFileKind(authorized string) string {
	t := keyType(authorized)
	switch {
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == "ssh-rsa":
		return "rsa"
	}
	return "ed25519"
}

// verifier checks host keys against a pinned key or known_hosts. Both
// paths say exactly which key the server should present
// (HostKeyAlgorithms): a server with several host keys would otherwise
// show one we do not know and fail although the one we know is there.
type verifier struct {
	name, address, source string
	pinned                ssh.PublicKey
	db                    ssh.HostKeyCallback // nil: no known_hosts file
	algorithms            []string

	mu  sync.Mutex
	err error // the *HostKeyError the callback returned, if any
}

func newVerifier(cfg SSHConfig) (*verifier, error) {
	v := &verifier{name: cfg.Name, address: cfg.Address, source: cfg.KnownHostsFile}
	var known []ssh.PublicKey
	if cfg.HostKey != "" {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(cfg.HostKey))
		if err != nil {
			return nil, fmt.Errorf("parse host_key: %w", err)
		}
		v.pinned, v.source, known = k, "host_key", []ssh.PublicKey{k}
	} else {
		db, err := knownhosts.New(cfg.KnownHostsFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read known hosts: %w", err)
		}
		v.db = db
		known = v.recorded()
	}
	supported := ssh.SupportedAlgorithms().HostKeys
	for _, k := range known {
		algos := []string{k.Type()}
		if k.Type() == ssh.KeyAlgoRSA {
			algos = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range algos {
			if slices.Contains(supported, a) && !slices.Contains(v.algorithms, a) {
				v.algorithms = append(v.algorithms, a)
			}
		}
	}
	return v, nil
}

// recorded asks known_hosts which keys it holds for the address, by
// checking a key that cannot match: the mismatch error lists them.
func (v *verifier) recorded() []ssh.PublicKey {
	if v.db == nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := v.db(v.address, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) {
		return nil
	}
	keys := make([]ssh.PublicKey, len(ke.Want))
	for i, w := range ke.Want {
		keys[i] = w.Key
	}
	return keys
}

// check is the ssh.HostKeyCallback.
func (v *verifier) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := v.verify(hostname, remote, key)
	v.mu.Lock()
	v.err = err
	v.mu.Unlock()
	return err
}

func (v *verifier) verify(hostname string, remote net.Addr, key ssh.PublicKey) error {
	e := &HostKeyError{
		Host:        v.name,
		Address:     v.address,
		Key:         strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))),
		Fingerprint: ssh.FingerprintSHA256(key),
		Source:      v.source,
	}
	if v.pinned != nil {
		if bytes.Equal(key.Marshal(), v.pinned.Marshal()) {
			return nil
		}
		e.Known = []string{ssh.FingerprintSHA256(v.pinned)}
		return e
	}
	if v.db == nil {
		return e
	}
	err := v.db(hostname, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		for _, w := range ke.Want {
			e.Known = append(e.Known, fmt.Sprintf("%s %s (line %d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Line))
		}
		return e
	case errors.As(err, &re):
		e.Revoked = true
		return e
	}
	return fmt.Errorf("check host key: %w", err)
}

// hostKeyErr returns the error the callback produced during the handshake.
func (v *verifier) hostKeyErr() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}
