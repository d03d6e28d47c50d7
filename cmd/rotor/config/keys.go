package config

import (
	"reflect"
	"strings"
)

// leafPaths returns the dotted path of every scalar setting, in struct
// order: the keys that environment variables and flags may set. Lists
// (structure.projects) are left out: they only come from the file.
func leafPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			path := prefix + f.Tag.Get("koanf")
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, path+".")
			case reflect.Slice:
			default:
				out = append(out, path)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// EnvPrefix starts every environment variable Rotor reads.
const EnvPrefix = "ROTOR_"

// EnvName returns the environment variable for a dotted path:
// http.tls_cert → ROTOR_HTTP_TLS_CERT (docs/configuration.md).
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// envConfigFile names the config file when --config is not given.
const envConfigFile = EnvPrefix + "CONFIG"

// envKeys maps each environment variable name to its dotted path. Keys
// contain underscores (tls_cert), so names are matched against the known
// paths rather than split on "_".
func envKeys() map[string]string {
	m := map[string]string{}
	for _, p := range leafPaths() {
		m[EnvName(p)] = p
	}
	return m
}
