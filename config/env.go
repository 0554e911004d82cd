package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// applyEnv lets MYAPP_<KEY> (top level) and MYAPP_<SECTION>_<KEY> override
// scalar and list keys, so CI can change a value without editing the file.
// Lists are comma-separated. [env] and [[hosts]] are not overridable this way:
// [env] values already come from the environment through ${VAR}.
func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	v := reflect.ValueOf(c).Elem()
	for _, o := range overrides() {
		s := getenv(o.name)
		if s == "" {
			continue
		}
		fv := v.FieldByIndex(o.index)
		switch {
		case fv.Kind() == reflect.String:
			fv.SetString(s)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			var parts []string
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			fv.Set(reflect.ValueOf(parts))
		default:
			continue
		}
		c.fromEnv[o.key] = o.name
	}
	return nil
}

// override is a key a MYAPP_* variable can set.
type override struct {
	name  string // MYAPP_ACME_EMAIL
	key   string // acme.email
	index []int  // the field in Config
}

// overrides lists them once per process, in the order of Config's fields:
// every config load (one per app in cert renew --all) reuses the list
// instead of walking the struct tags again.
var overrides = sync.OnceValue(func() []override {
	var out []override
	var walk func(t reflect.Type, prefix, keyPrefix string, index []int)
	walk = func(t reflect.Type, prefix, keyPrefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if tag == "" || tag == "-" || tag == "env" || tag == "hosts" {
				continue
			}
			name, key := prefix+"_"+strings.ToUpper(tag), keyPrefix+tag
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, name, key+".", idx)
				continue
			}
			out = append(out, override{name: name, key: key, index: idx})
		}
	}
	walk(reflect.TypeOf(Config{}), "MYAPP", "", nil)
	return out
})

// EnvNames lists every MYAPP_* variable that overrides a key.
func EnvNames() []string {
	var out []string
	for _, o := range overrides() {
		out = append(out, o.name)
	}
	return out
}

// OtherEnv are MYAPP_* variables myapp reads that are not key overrides.
var OtherEnv = []string{"MYAPP_SSH_KEY", "MYAPP_DNS_RESOLVER"}

// UnknownEnv returns the MYAPP_* variables in environ that myapp does not
// read — most likely typos of an override, which would otherwise be ignored
// silently.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, n := range append(EnvNames(), OtherEnv...) {
		known[n] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MYAPP_") && !known[name] && !strings.HasPrefix(name, "MYAPP_TEST_") && !strings.HasPrefix(name, "MYAPP_E2E") && name != "MYAPP_SKIP_E2E" {
			out = append(out, name)
		}
	}
	return out
}

var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`) })

// Expand replaces ${VAR} references in s with values from getenv. It reports
// the names of variables that were referenced but unset or empty; the caller
// decides whether that is an error (a secret missing in CI) or a default.
func Expand(s string, getenv func(string) string) (out string, missing []string) {
	out = varRef().ReplaceAllStringFunc(s, func(m string) string {
		name := varRef().FindStringSubmatch(m)[1]
		val := getenv(name)
		if val == "" {
			missing = append(missing, name)
		}
		return val
	})
	return out, missing
}
