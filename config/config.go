// Package config loads and validates myapp.toml: strict decoding (unknown
// keys are errors with line and column), environment overrides
// (MYAPP_<SECTION>_<KEY>), ${VAR} expansion for secrets, and validation of
// every value before it can reach a config file, a unit or a shell.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/myapp/myapp/internal/readfile"
)

// Config is myapp.toml.
type Config struct {
	App      string            `toml:"app"`
	Domains  []string          `toml:"domains"`
	ACME     ACME              `toml:"acme"`
	Frontend Frontend          `toml:"frontend"`
	API      API               `toml:"api"`
	Auth     Auth              `toml:"auth"`
	Env      map[string]string `toml:"env"`
	Hosts    []Host            `toml:"hosts"`

	// Path is the file the config was read from; Dir its directory.
	Path string `toml:"-"`
	Dir  string `toml:"-"`

	// raw is the file's text, for locating keys in error messages.
	raw []byte
	// fromEnv maps keys set by MYAPP_* overrides to the variable's name,
	// so an error blames the variable and not the file.
	fromEnv map[string]string
}

// ACME configures the certificate authority.
type ACME struct {
	Email       string `toml:"email"`
	Directory   string `toml:"directory"`
	CARoots     string `toml:"ca_roots"`
	Profile     string `toml:"profile"`
	KeyType     string `toml:"key_type"`
	DNSProvider string `toml:"dns_provider"`
	DeployHook  string `toml:"deploy_hook"`
	EABKid      string `toml:"eab_kid"`
	EABHMAC     string `toml:"eab_hmac"`
}

// Frontend is the single-page app shipped to the hosts.
type Frontend struct {
	Dir string `toml:"dir"`
}

// API is the backend proxied at /api/.
type API struct {
	Upstream string `toml:"upstream"`
	Command  string `toml:"command"`
}

// Auth configures the bundled auth server.
type Auth struct {
	Listen     string `toml:"listen"`
	DBURL      string `toml:"db_url"`
	AccessTTL  string `toml:"access_ttl"`
	RefreshTTL string `toml:"refresh_ttl"`
}

// Host is one [[hosts]] entry.
type Host struct {
	Name         string `toml:"name"`
	Address      string `toml:"address"`
	User         string `toml:"user"`
	IdentityFile string `toml:"identity_file"`
	KnownHosts   string `toml:"known_hosts"`
	HostKey      string `toml:"host_key"`
}

// Error is a configuration mistake; exit code 2. It names the file, the
// line and column when known, and the key.
type Error struct {
	File      string
	Line, Col int
	Key       string
	Msg       string
	Hint      string
	Err       error // the cause, when there is one (reading the file)
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("\nhint: " + e.Hint)
	}
	return b.String()
}

// Defaults.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 720 * time.Hour
)

// Load reads, decodes strictly, applies environment overrides and defaults,
// and validates path. getenv is os.Getenv in production.
func Load(path string, getenv func(string) string) (*Config, error) {
	raw, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: path, Msg: "config file not found",
				Hint: "create myapp.toml (see README.md) or pass --config FILE", Err: err}
		}
		return nil, err
	}
	return Parse(path, raw, getenv)
}

// MaxFileSize bounds a config file: a real one is a few hundred bytes, and
// a huge file (a wrong path, a log) must not take the memory of a host.
const MaxFileSize = 1 << 20

// ReadFile reads a config file of at most MaxFileSize bytes. Its errors
// are *Error naming the file; os.ErrNotExist still matches errors.Is.
func ReadFile(path string) ([]byte, error) {
	raw, err := readfile.Read(path, MaxFileSize)
	if errors.Is(err, readfile.ErrTooLarge) {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d KiB: not a myapp.toml", MaxFileSize>>10)}
	} else if err != nil {
		return nil, &Error{File: path, Msg: pathErrMsg(err), Err: err}
	}
	return raw, nil
}

// pathErrMsg is err without the path an *os.PathError repeats.
func pathErrMsg(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse is Load for bytes already read.
func Parse(path string, raw []byte, getenv func(string) string) (*Config, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a BOM some editors add
	c := &Config{Path: path, raw: raw, fromEnv: map[string]string{}}
	if abs, err := filepath.Abs(path); err == nil {
		c.Dir = filepath.Dir(abs)
	}
	dec := toml.NewDecoder(bytes.NewReader(raw)).DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(path, err)
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		d := strict.Errors[0]
		line, col := d.Position()
		return &Error{File: path, Line: line, Col: col, Key: strings.Join(d.Key(), "."),
			Msg: "unknown key", Hint: "check the spelling against README.md; unknown keys are refused so typos never pass silently"}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: path, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: de.Error()}
	}
	return &Error{File: path, Msg: err.Error()}
}

func (c *Config) setDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.ACME.Directory, "letsencrypt")
	def(&c.ACME.KeyType, "ec256")
	def(&c.Frontend.Dir, "build/web")
	def(&c.API.Upstream, "http://127.0.0.1:8000")
	def(&c.Auth.Listen, "127.0.0.1:9000")
	def(&c.Auth.AccessTTL, "15m")
	def(&c.Auth.RefreshTTL, "720h")
	for i := range c.Hosts {
		def(&c.Hosts[i].User, "root")
	}
}

// AccessTTL and RefreshTTL are the parsed durations (validated by Load).
func (c *Config) AccessTTL() time.Duration  { d, _ := time.ParseDuration(c.Auth.AccessTTL); return d }
func (c *Config) RefreshTTL() time.Duration { d, _ := time.ParseDuration(c.Auth.RefreshTTL); return d }

// FrontendDir is frontend.dir resolved against the config's directory.
func (c *Config) FrontendDir() string {
	if filepath.IsAbs(c.Frontend.Dir) {
		return c.Frontend.Dir
	}
	return filepath.Join(c.Dir, c.Frontend.Dir)
}

// LookupHost returns the [[hosts]] entry named name.
func (c *Config) LookupHost(name string) (Host, bool) {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// CARootsPath is acme.ca_roots resolved against the config's directory.
func (c *Config) CARootsPath() string {
	if c.ACME.CARoots == "" || filepath.IsAbs(c.ACME.CARoots) {
		return c.ACME.CARoots
	}
	return filepath.Join(c.Dir, c.ACME.CARoots)
}
