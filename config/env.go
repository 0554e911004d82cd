package config

import (
	"reflect"
	"regexp"
	"strings"
)

// applyEnv lets MYAPP_<KEY> (top level) and MYAPP_<SECTION>_<KEY> override
// scalar and list keys, so CI can change a value without editing the file.
// Lists are comma-separated. [env] and [[hosts]] are not overridable this way:
// [env] values already come from the environment through ${VAR}.
func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	return overrideStruct(reflect.ValueOf(c).Elem(), "MYAPP", "", getenv, c.fromEnv)
}

func overrideStruct(v reflect.Value, prefix, keyPrefix string, getenv func(string) string, seen map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || tag == "env" || tag == "hosts" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		key := keyPrefix + tag
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			if err := overrideStruct(fv, name, key+".", getenv, seen); err != nil {
				return err
			}
		case reflect.String:
			if s, ok := lookup(getenv, name); ok {
				fv.SetString(s)
				seen[key] = name
			}
		case reflect.Slice:
			if s, ok := lookup(getenv, name); ok && fv.Type().Elem().Kind() == reflect.String {
				seen[key] = name
				var parts []string
				for _, p := range strings.Split(s, ",") {
					if p = strings.TrimSpace(p); p != "" {
						parts = append(parts, p)
					}
				}
				fv.Set(reflect.ValueOf(parts))
			}
		}
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	s := getenv(name)
	return s, s != ""
}

// EnvNames lists every MYAPP_* variable that overrides a key.
func EnvNames() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
			if tag == "" || tag == "-" || tag == "env" || tag == "hosts" {
				continue
			}
			name := prefix + "_" + strings.ToUpper(tag)
			if t.Field(i).Type.Kind() == reflect.Struct {
				walk(t.Field(i).Type, name)
				continue
			}
			out = append(out, name)
		}
	}
	walk(reflect.TypeOf(Config{}), "MYAPP")
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

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Expand replaces ${VAR} references in s with values from getenv. It reports
// the names of variables that were referenced but unset or empty; the caller
// decides whether that is an error (a secret missing in CI) or a default.
func Expand(s string, getenv func(string) string) (out string, missing []string) {
	out = varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		val := getenv(name)
		if val == "" {
			missing = append(missing, name)
		}
		return val
	})
	return out, missing
}
