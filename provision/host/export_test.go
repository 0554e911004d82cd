package host

// NewLocalSudo returns a local Host that behaves as if myapp were not
// root: commands through sudo -n, files through the sh scripts. As root,
// sudo lets the tests drive that path on this machine.
func NewLocalSudo() Host { return newLocal(true) }
