package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// maxSessions stays below OpenSSH's default MaxSessions (10) so that
// goroutines sharing a Host queue for a session instead of being refused.
const maxSessions = 8

// sshHost runs everything over one SSH connection: each Run is a session,
// each Dial a direct-tcpip channel, and file operations are the sh scripts
// of shellFiles (no sftp subsystem needed, and they work through sudo).
type sshHost struct {
	name     string
	sudo     bool
	client   *ssh.Client
	sessions chan struct{} // counting semaphore of open sessions
	files    *shellFiles
	done     chan struct{}
	close    sync.Once

	mu   sync.Mutex
	lost error // why the keepalive gave up on the connection
}

// DialSSH connects and authenticates to a host, verifying its host key
// (there is no way to skip that). The returned Host keeps the connection
// open until Close.
func DialSSH(ctx context.Context, cfg SSHConfig) (Host, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("%s: connect: %w", cfg.Name, err)
	}
	signers, closeAgent, err := loadSigners(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", cfg.Name, err)
	}
	defer closeAgent() // the agent is needed only while authenticating
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", cfg.Name, err)
	}
	conf := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   v.check,
		HostKeyAlgorithms: v.algorithms,
		Timeout:           cfg.ConnectTimeout,
	}
	client, err := handshake(ctx, cfg, conf)
	if err != nil {
		// The callback's own error is more precise than the handshake's.
		if hkErr := v.hostKeyErr(); hkErr != nil {
			err = hkErr
		} else if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = &handshakeTimeout{after: cfg.ConnectTimeout}
		}
		return nil, fmt.Errorf("%s: connect to %s@%s: %w", cfg.Name, cfg.User, cfg.Address, err)
	}
	h := &sshHost{
		name:     cfg.Name,
		sudo:     cfg.User != "root",
		client:   client,
		sessions: make(chan struct{}, maxSessions),
		done:     make(chan struct{}),
	}
	h.files = &shellFiles{name: h.name, run: h.run}
	if cfg.KeepAlive > 0 {
		go h.keepAlive(cfg.KeepAlive)
	}
	return h, nil
}

// handshake dials and runs the SSH handshake within ConnectTimeout and ctx.
func handshake(ctx context.Context, cfg SSHConfig, conf *ssh.ClientConfig) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, err
	}
	// NewClientConn knows no context; closing the socket is what stops it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, cfg.Address, conf)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			err = fmt.Errorf("%w\nhint: add the public key to ~%s/.ssh/authorized_keys on the host, "+
				"or load the right key into ssh-agent", err, cfg.User)
		}
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func (h *sshHost) Name() string { return h.name }

func (h *sshHost) Run(ctx context.Context, c Cmd) ([]byte, error) {
	out, err := h.run(ctx, c)
	if err != nil {
		return out, fmt.Errorf("%s: run %s: %w", h.name, cmdName(c), err)
	}
	return out, nil
}

func (h *sshHost) run(ctx context.Context, c Cmd) ([]byte, error) {
	argv, err := commandArgv(c, h.sudo)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sessions <- struct{}{}:
		defer func() { <-h.sessions }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s, err := h.newSession(ctx)
	if err != nil {
		return nil, h.connErr("open session", err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = c.Stdin, &stdout, &stderr
	// The server hands the string to the login user's shell: quoting each
	// word is what keeps the argv an argv.
	if err := s.Start(ShellJoin(argv)); err != nil {
		return nil, h.connErr("start command", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// TERM first: sudo relays it to the command, but dies of a KILL
		// without passing it on, which would orphan the command. Signals
		// are best effort: OpenSSH refuses them for root logins ("session
		// signalling requires privilege separation"), so there, as with
		// ssh(1) without a tty, the command runs on after we hang up.
		s.Signal(ssh.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Second):
			s.Signal(ssh.SIGKILL)
		}
		s.Close()
		return nil, ctx.Err()
	}
	if xe := (*ssh.ExitError)(nil); errors.As(err, &xe) {
		code := xe.ExitStatus()
		if xe.Signal() != "" {
			code = -1
		}
		return stdout.Bytes(), &ExitError{Argv: c.Argv, Code: code, Stderr: stderr.String()}
	}
	if err != nil {
		return nil, h.connErr("wait for command", err)
	}
	return stdout.Bytes(), nil
}

// newSession opens a session, waiting a little when the server refuses
// one: sshd counts a session until it has seen our close, which trails the
// end of the previous command, and its MaxSessions may be set below ours.
func (h *sshHost) newSession(ctx context.Context) (*ssh.Session, error) {
	delay, deadline := 5*time.Millisecond, time.Now().Add(10*time.Second)
	for {
		s, err := h.client.NewSession()
		var oce *ssh.OpenChannelError
		if err == nil || !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed && oce.Reason != ssh.ResourceShortage {
			return s, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w\nhint: the server refuses more sessions; check MaxSessions in its sshd_config", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

func (h *sshHost) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := h.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", h.name, addr, h.connErr("open channel", err))
	}
	return conn, nil
}

// Close closes the connection; it is safe to call more than once.
func (h *sshHost) Close() error {
	err := net.ErrClosed
	h.close.Do(func() {
		close(h.done)
		err = h.client.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// keepAlive probes the server so that a dead connection (a host that
// vanished, a NAT that forgot us) fails the calls waiting on it instead of
// leaving them hanging until TCP gives up, which can take hours.
func (h *sshHost) keepAlive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := h.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		var err error
		select {
		case <-h.done:
			return
		case err = <-reply:
		case <-time.After(3 * interval):
			err = fmt.Errorf("no keepalive reply in %s", 3*interval)
		}
		if err != nil {
			h.mu.Lock()
			h.lost = fmt.Errorf("connection lost: %w", err)
			h.mu.Unlock()
			h.client.Close()
			return
		}
	}
}

// connErr explains a failure of the connection itself, naming the
// keepalive's verdict when it was the one that closed it.
func (h *sshHost) connErr(op string, err error) error {
	h.mu.Lock()
	lost := h.lost
	h.mu.Unlock()
	if lost != nil {
		return fmt.Errorf("%s: %w", op, lost)
	}
	select {
	case <-h.done:
		return fmt.Errorf("%s: host closed: %w", op, err)
	default:
	}
	return fmt.Errorf("%s: %w", op, err)
}

// File operations are shell scripts; see scripts.go.

func (h *sshHost) ReadFile(ctx context.Context, p string) ([]byte, error) {
	return h.files.ReadFile(ctx, p)
}
func (h *sshHost) Stat(ctx context.Context, p string) (FileInfo, error) { return h.files.Stat(ctx, p) }
func (h *sshHost) WriteFile(ctx context.Context, f FileSpec) error      { return h.files.WriteFile(ctx, f) }
func (h *sshHost) Remove(ctx context.Context, p string) error           { return h.files.Remove(ctx, p) }
func (h *sshHost) Symlink(ctx context.Context, target, link string) error {
	return h.files.Symlink(ctx, target, link)
}
func (h *sshHost) MkdirAll(ctx context.Context, p string, mode fs.FileMode, owner string) error {
	return h.files.MkdirAll(ctx, p, mode, owner)
}

// handshakeTimeout is a server that accepted the connection but did not
// complete the SSH handshake in time. It is a context.DeadlineExceeded, so
// callers can tell a timeout from a refusal.
type handshakeTimeout struct{ after time.Duration }

func (e *handshakeTimeout) Error() string {
	return fmt.Sprintf("no SSH handshake within %s (is this an SSH server, and is it answering?)", e.after)
}
func (e *handshakeTimeout) Unwrap() error { return context.DeadlineExceeded }
