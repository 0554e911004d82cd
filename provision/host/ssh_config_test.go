package host

import (
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
