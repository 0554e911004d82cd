package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// StartCA starts Pebble itself (not its DNS server) and waits for its
// directory. StartPebble calls it; a test calls it again after StopCA.
// Pebble keeps everything in memory: a restarted Pebble has a new root,
// and has forgotten every account, order and certificate.
func (p *Pebble) StartCA(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ca >= 0 {
		return errors.New("pebble: already running")
	}
	if err := CheckPortsFree(14000, 15000); err != nil {
		return err
	}
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}
	if err := p.spawn(filepath.Join(p.bin, "pebble"), env, "pebble.log",
		"-config", p.cfgPath, "-dnsserver", PebbleDNS); err != nil {
		return err
	}
	i := len(p.procs) - 1
	if err := p.waitDirectory(ctx, i, 30*time.Second); err != nil {
		p.end(i)
		return fmt.Errorf("pebble: %w\n%s", err, tail(filepath.Join(p.LogDir, "pebble.log"), 2000))
	}
	p.ca = i
	return nil
}

// StopCA stops Pebble, leaving its DNS server up: to a client the CA is
// then simply unreachable (connection refused).
func (p *Pebble) StopCA() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ca < 0 {
		return errors.New("pebble: not running")
	}
	p.end(p.ca)
	p.ca = -1
	return nil
}

var (
	orderLine   = regexp.MustCompile(`Added order "[^"]*" to the db`)
	requestLine = regexp.MustCompile(`(GET|HEAD|POST) (\S+) -> calling handler\(\)`)
)

// Orders counts the orders every Pebble of this run has accepted (Pebble
// logs `Added order "..." to the db` for each new-order request).
func (p *Pebble) Orders() (int, error) {
	log, err := p.log()
	if err != nil {
		return 0, err
	}
	return len(orderLine.FindAllIndex(log, -1)), nil
}

// Requests counts the ACME API requests every Pebble of this run has
// handled: directory, nonces, accounts, orders, renewal information. The
// management endpoints a test uses are not counted; StartCA's own wait for
// the directory is (take a count after StartCA, not before).
func (p *Pebble) Requests() (int, error) {
	log, err := p.log()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range requestLine.FindAllSubmatch(log, -1) {
		if string(m[2]) != "/set-renewal-info/" {
			n++
		}
	}
	return n, nil
}

func (p *Pebble) log() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(p.LogDir, "pebble.log"))
	if err != nil {
		return nil, fmt.Errorf("read pebble log: %w", err)
	}
	return b, nil
}

// SetRenewalInfo makes Pebble's ARI (RFC 9773) answer for the leaf
// certificate in certPEM suggest the window [start, end], through its
// management endpoint /set-renewal-info/.
func (p *Pebble) SetRenewalInfo(ctx context.Context, certPEM []byte, start, end time.Time) error {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("set renewal info: no certificate in PEM")
	}
	window, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{
		"Certificate": string(pem.EncodeToMemory(block)),
		"ARIResponse": string(window),
	})
	return p.post(ctx, "https://"+PebbleManagement+"/set-renewal-info/", body)
}

// SetServFail makes Pebble's DNS server answer SERVFAIL for every query
// about name (the CA's validation then fails for it too); ClearServFail
// undoes it.
func (p *Pebble) SetServFail(ctx context.Context, name string) error {
	body, _ := json.Marshal(map[string]string{"host": name})
	return p.post(ctx, "http://"+p.challMgmt+"/set-servfail", body)
}

// ClearServFail ends SetServFail for name.
func (p *Pebble) ClearServFail(ctx context.Context, name string) error {
	body, _ := json.Marshal(map[string]string{"host": name})
	return p.post(ctx, "http://"+p.challMgmt+"/clear-servfail", body)
}

func (p *Pebble) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// DNSManagement is the address (127.0.0.1:PORT) of pebble-challtestsrv's
// management API, for a DNS-01 hook under test to add and remove TXT
// records as a DNS provider's API would: POST /set-txt {"host","value"}
// and /clear-txt {"host"}, with host a fully qualified name.
func (p *Pebble) DNSManagement() string { return p.challMgmt }
