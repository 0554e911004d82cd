package host

// Unit tests of the helpers both transports share; their behaviour on a
// real machine is the business of hosttest.

import (
	"io/fs"
	"path/filepath"
	"testing"
	"time"
)

func TestSSHConfigDefaults(t *testing.T) {
	t.Setenv("HOME", "/home/ci")
	tests := []struct {
		in, wantAddr, wantName string
	}{
		{"203.0.113.10", "203.0.113.10:22", "203.0.113.10:22"},
		{"203.0.113.10:2222", "203.0.113.10:2222", "203.0.113.10:2222"},
		{"web1.example.com", "web1.example.com:22", "web1.example.com:22"},
		{"2001:db8::1", "[2001:db8::1]:22", "[2001:db8::1]:22"},
		{"[2001:db8::1]", "[2001:db8::1]:22", "[2001:db8::1]:22"},
		{"[2001:db8::1]:2222", "[2001:db8::1]:2222", "[2001:db8::1]:2222"},
	}
	for _, tt := range tests {
		c := SSHConfig{Address: tt.in, IdentityFile: "~/.ssh/deploy"}
		if err := c.setDefaults(); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if c.Address != tt.wantAddr || c.Name != tt.wantName {
			t.Errorf("%s: address %s, name %s; want %s, %s", tt.in, c.Address, c.Name, tt.wantAddr, tt.wantName)
		}
		want := SSHConfig{
			Name: c.Name, Address: c.Address, User: "root",
			IdentityFile:   filepath.FromSlash("/home/ci/.ssh/deploy"),
			KnownHostsFile: filepath.FromSlash("/home/ci/.ssh/known_hosts"),
			ConnectTimeout: 15 * time.Second, KeepAlive: 15 * time.Second,
		}
		if c != want {
			t.Errorf("%s: defaults = %+v, want %+v", tt.in, c, want)
		}
	}
	c := SSHConfig{Name: "web1", Address: "h", User: "deploy", KnownHostsFile: "/etc/myapp/known_hosts", KeepAlive: -1}
	if err := c.setDefaults(); err != nil || c.Name != "web1" || c.User != "deploy" ||
		c.KnownHostsFile != "/etc/myapp/known_hosts" || c.KeepAlive != -1 {
		t.Errorf("explicit values changed: %+v, %v", c, err)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		out  string
		want FileInfo
	}{
		{"81a4 0 0 12 root root\n", FileInfo{Mode: 0o644, Owner: "root:root", Size: 12}},
		{"41ed 65534 65534 4096 nobody nogroup\n", FileInfo{Mode: fs.ModeDir | 0o755, Owner: "nobody:nogroup", Size: 4096}},
		{"43ff 0 0 4096 root root\n", FileInfo{Mode: fs.ModeDir | fs.ModeSticky | 0o777, Owner: "root:root", Size: 4096}},
		{"a1ff 1001 1002 9 UNKNOWN UNKNOWN\n/a\nb c\n\n", FileInfo{Mode: fs.ModeSymlink | 0o777, Owner: "1001:1002", Size: 9, Symlink: "/a\nb c\n"}},
		{"89ed 0 0 1 root root\n", FileInfo{Mode: fs.ModeSetuid | 0o755, Owner: "root:root", Size: 1}},
	}
	for _, tt := range tests {
		got, err := parseStat([]byte(tt.out))
		if err != nil || got != tt.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "zz 0 0 1 root root\n", "81a4 0 0\n"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestModes(t *testing.T) {
	for _, m := range []fs.FileMode{0o600, 0o644, 0o755, fs.ModeSticky | 0o777, fs.ModeSetgid | 0o750, fs.ModeSetuid | 0o755} {
		if got := fileMode(unixMode(m)); got != m {
			t.Errorf("fileMode(unixMode(%v)) = %v", m, got)
		}
	}
	if got := octal(fs.ModeSetgid | 0o750); got != "02750" {
		t.Errorf("octal = %s, want 02750", got)
	}
	if got := octal(0o644); got != "00644" {
		t.Errorf("octal = %s, want 00644 (five digits clear setgid on directories)", got)
	}
}

func TestChownSpec(t *testing.T) {
	for in, want := range map[string]string{"": "root:root", "www-data": "www-data:", "www-data:adm": "www-data:adm", "33:4": "33:4"} {
		if got, err := chownSpec(in); err != nil || got != want {
			t.Errorf("chownSpec(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"-R", "a b", "a\nb"} {
		if _, err := chownSpec(bad); err == nil {
			t.Errorf("chownSpec(%q) succeeded", bad)
		}
	}
}
