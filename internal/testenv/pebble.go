package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fixed Pebble addresses: the HTTP-01 port must be 80 so validation reaches
// the booted host's nginx.
const (
	PebbleListen     = "127.0.0.1:14000"
	PebbleManagement = "127.0.0.1:15000"
	PebbleDNS        = "127.0.0.1:8053"
)

// Pebble is a running Pebble ACME server plus pebble-challtestsrv as its DNS
// server, which answers every A query with 127.0.0.1 and no AAAA.
type Pebble struct {
	DirectoryURL string // https://127.0.0.1:14000/dir
	// CAFile is the PEM (Pebble's minica root) that Pebble's own HTTPS API
	// and management port are signed by. The certificates Pebble issues
	// chain to Roots instead.
	CAFile  string
	DNSAddr string // 127.0.0.1:8053, UDP and TCP
	LogDir  string

	client    *http.Client
	bin       string // directory of the pebble binaries
	cfgPath   string // pebble-config.json
	challMgmt string // pebble-challtestsrv's management address

	mu       sync.Mutex // guards procs, dones, ca (StopCA/StartCA)
	procs    []*exec.Cmd
	dones    []chan struct{}
	ca       int // index of pebble itself in procs, -1 while stopped
	stopOnce sync.Once
}

type pebbleConfig struct {
	Pebble struct {
		ListenAddress                  string   `json:"listenAddress"`
		ManagementListenAddress        string   `json:"managementListenAddress"`
		Certificate                    string   `json:"certificate"`
		PrivateKey                     string   `json:"privateKey"`
		HTTPPort                       int      `json:"httpPort"`
		TLSPort                        int      `json:"tlsPort"`
		OCSPResponderURL               string   `json:"ocspResponderURL"`
		ExternalAccountBindingRequired bool     `json:"externalAccountBindingRequired"`
		DomainBlocklist                []string `json:"domainBlocklist"`
		RetryAfter                     struct {
			Authz int `json:"authz"`
			Order int `json:"order"`
		} `json:"retryAfter"`
		KeyAlgorithm string `json:"keyAlgorithm"`
		Profiles     map[string]struct {
			Description    string `json:"description"`
			ValidityPeriod int    `json:"validityPeriod"`
		} `json:"profiles"`
	} `json:"pebble"`
}

// PebbleBinaries builds pebble and pebble-challtestsrv (pinned as tools in
// go.mod) into CacheDir()/bin and returns that directory.
func PebbleBinaries(ctx context.Context) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(CacheDir(), "bin")
	unlock, err := flock(ctx, filepath.Join(CacheDir(), "bin.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/",
		"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pebble: %w: %s", err, out)
	}
	return bin, nil
}

// pebbleSource is Pebble's module directory, for its test certificates.
func pebbleSource(ctx context.Context) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate pebble module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("locate pebble module: not downloaded (run go mod download)")
	}
	return dir, nil
}

// StartPebble starts pebble-challtestsrv and Pebble with logs and config in
// dir, and waits until the directory answers. Call Stop.
func StartPebble(ctx context.Context, dir string) (p *Pebble, err error) {
	if err := CheckPortsFree(14000, 15000, 8053); err != nil {
		return nil, err
	}
	bin, err := PebbleBinaries(ctx)
	if err != nil {
		return nil, err
	}
	src, err := pebbleSource(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p = &Pebble{
		DirectoryURL: "https://" + PebbleListen + "/dir",
		CAFile:       filepath.Join(src, "test/certs/pebble.minica.pem"),
		DNSAddr:      PebbleDNS,
		LogDir:       dir,
		bin:          bin,
		ca:           -1,
	}
	defer func() {
		if err != nil {
			_ = p.Stop()
			p = nil
		}
	}()
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		return p, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return p, fmt.Errorf("no certificate in %s", p.CAFile)
	}
	p.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}

	challMgmt, err := freePort()
	if err != nil {
		return p, err
	}
	p.challMgmt = fmt.Sprintf("127.0.0.1:%d", challMgmt)
	// Only the DNS server: its HTTP-01/TLS-ALPN/DoH listeners would take
	// ports (5001-5003, 8443) for nothing.
	if err := p.spawn(filepath.Join(bin, "pebble-challtestsrv"), nil, "challtestsrv.log",
		"-dnsserver", PebbleDNS, "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-management", p.challMgmt,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""); err != nil {
		return p, err
	}

	var cfg pebbleConfig
	c := &cfg.Pebble
	c.ListenAddress = PebbleListen
	c.ManagementListenAddress = PebbleManagement
	c.Certificate = filepath.Join(src, "test/certs/localhost/cert.pem")
	c.PrivateKey = filepath.Join(src, "test/certs/localhost/key.pem")
	c.HTTPPort = 80
	c.TLSPort = 5001 // only dialled for TLS-ALPN-01, which nothing here uses
	c.DomainBlocklist = []string{}
	c.RetryAfter.Authz, c.RetryAfter.Order = 1, 1
	c.KeyAlgorithm = "ecdsa"
	c.Profiles = map[string]struct {
		Description    string `json:"description"`
		ValidityPeriod int    `json:"validityPeriod"`
	}{
		"default":    {"90-day certificates", 7776000},
		"shortlived": {"6-day certificates", 518400},
	}
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	p.cfgPath = filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(p.cfgPath, cfgJSON, 0o644); err != nil {
		return p, err
	}
	if err := waitUDPDNS(ctx, PebbleDNS, 10*time.Second); err != nil {
		return p, fmt.Errorf("challtestsrv: %w\n%s", err, tail(filepath.Join(dir, "challtestsrv.log"), 2000))
	}
	if err := p.StartCA(ctx); err != nil {
		return p, err
	}
	return p, nil
}

// spawn starts a process logging to logName in LogDir (appending, so a
// restarted Pebble keeps one log for the whole run); the caller holds mu or
// is StartPebble.
func (p *Pebble) spawn(path string, env []string, logName string, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(p.LogDir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.procs = append(p.procs, cmd)
	p.dones = append(p.dones, done)
	return nil
}

// waitDirectory waits for the directory of the Pebble at procs[i]; the
// caller holds mu.
func (p *Pebble) waitDirectory(ctx context.Context, i int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-p.dones[i]:
			return fmt.Errorf("%s exited", filepath.Base(p.procs[i].Path))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", p.DirectoryURL, nil)
		resp, err := p.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", p.DirectoryURL, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("directory not answering after %s: %v", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitUDPDNS waits until a DNS server answers a query on addr.
func waitUDPDNS(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := Resolver(addr)
	for {
		qctx, qcancel := context.WithTimeout(ctx, time.Second)
		_, err := r.LookupHost(qctx, "probe.test")
		qcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dns %s not answering: %v", addr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Resolver returns a resolver that asks only the DNS server at addr.
func Resolver(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// Resolver resolves names the way Pebble's validation does (every name is
// 127.0.0.1).
func (p *Pebble) Resolver() *net.Resolver { return Resolver(p.DNSAddr) }

// Roots returns the PEM of the root that Pebble's issued certificates chain
// to. Pebble makes a new one at every start.
func (p *Pebble) Roots(ctx context.Context) ([]byte, error) {
	return p.management(ctx, "/roots/0")
}

// Intermediates returns the PEM of Pebble's issuing intermediate.
func (p *Pebble) Intermediates(ctx context.Context) ([]byte, error) {
	return p.management(ctx, "/intermediates/0")
}

// RootPool is Roots as a certificate pool.
func (p *Pebble) RootPool(ctx context.Context) (*x509.CertPool, error) {
	pemData, err := p.Roots(ctx)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("pebble /roots/0: no certificate")
	}
	return pool, nil
}

func (p *Pebble) management(ctx context.Context, path string) ([]byte, error) {
	u := "https://" + PebbleManagement + path
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("get %s: %s: %s", u, resp.Status, body)
	}
	return body, nil
}

// Stop ends both processes (SIGTERM, then SIGKILL after 5 s).
func (p *Pebble) Stop() error {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := len(p.procs) - 1; i >= 0; i-- {
			p.end(i)
		}
		p.ca = -1
	})
	return nil
}

// end stops procs[i] (a no-op when it has exited); the caller holds mu.
func (p *Pebble) end(i int) {
	cmd := p.procs[i]
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.dones[i]:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-p.dones[i]
	}
}
