package provision

// InitSteps is `myapp init`, in order. Each step is idempotent: on a host
// that is already provisioned every one of them reports unchanged.
func InitSteps() []Step {
	return []Step{
		checks{},                      // fail before any change on mistakes only the host reveals
		nginxPackage{},                // apt-get install nginx when missing
		serviceUser{},                 // system user for the auth server and API
		directories{},                 // /etc/myapp/<app>, state, webroot, releases
		binary{},                      // /usr/local/bin/myapp (this very binary)
		hostConfig{},                  // /etc/myapp/<app>/myapp.toml (+ CA roots)
		dotEnv{},                      // /etc/myapp/<app>/.env, 0600, secrets kept
		certbotStep{},                 // warn about (or disable) certbot renewing the same names
		firstRelease{},                // the frontend, when the host has none yet
		nginxSite{name: "nginx site"}, // HTTP-only until a certificate exists
		certificate{},                 // ACME HTTP-01 through the webroot
		nginxSite{name: "https site"}, // the full site once the certificate is there
		units{},                       // auth server, renewal timer, API
		verify{},                      // HTTPS and /auth/healthz answer on the host
	}
}
