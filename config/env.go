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
	return overrideStruct(reflect.ValueOf(c).Elem(), "MYAPP", getenv)
}

func overrideStruct(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || tag == "env" || tag == "hosts" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			if err := overrideStruct(fv, name, getenv); err != nil {
				return err
			}
		case reflect.String:
			if s, ok := lookup(getenv, name); ok {
				fv.SetString(s)
			}
		case reflect.Slice:
			if s, ok := lookup(getenv, name); ok && fv.Type().Elem().Kind() == reflect.String {
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
