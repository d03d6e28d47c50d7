package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// flagKeys are the settings that have a command-line flag; the flag is
// named by the dotted path. Secrets are left out on purpose: command
// lines are visible to every user of the machine.
var flagKeys = []string{
	"http.address", "http.tls_cert", "http.tls_key", "http.h2c", "http.ping",
	"engine.type", "engine.redis_url",
	"structure.store", "structure.sqlite_path",
	"log.level", "log.format",
}

// redisURLFlag is the short form of --engine.redis_url (docs/configuration.md).
const redisURLFlag = "redis-url"

// RegisterFlags adds the flags of the common settings to fs, with the
// defaults shown in help. Only flags given on the command line override
// the file and the environment.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Default()
	usage := map[string]string{
		"http.address":          "listen address, host:port",
		"http.tls_cert":         "TLS certificate file (with --http.tls_key: HTTPS and HTTP/2)",
		"http.tls_key":          "TLS private key file",
		"http.h2c":              "serve cleartext HTTP/2",
		"http.ping":             "longest silence on an SSE stream (heartbeat)",
		"engine.type":           "engine: memory | redis",
		"engine.redis_url":      "Redis URL (redis://, rediss://, unix://, redis-sentinel://, redis-cluster://; go-redis options in the query)",
		"structure.store":       "structure store: sqlite | file | engine",
		"structure.sqlite_path": "SQLite database file",
		"log.level":             "log level: debug | info | warn | error",
		"log.format":            "log format: text | json",
	}
	defaults := map[string]string{
		"http.address": d.HTTP.Address, "http.ping": d.HTTP.Ping.String(),
		"engine.type": d.Engine.Type, "structure.store": d.Structure.Store,
		"structure.sqlite_path": d.Structure.SQLitePath,
		"log.level":             d.Log.Level, "log.format": d.Log.Format,
	}
	for _, k := range flagKeys {
		if k == "http.h2c" {
			fs.Bool(k, false, usage[k])
			continue
		}
		fs.String(k, defaults[k], usage[k])
	}
	fs.String(redisURLFlag, "", "same as --engine.redis_url")
}

// Load builds the configuration from, in rising precedence: Default(), the
// YAML file at path (none when path is empty and environ has no
// ROTOR_CONFIG), ROTOR_* variables in environ (os.Environ() form), and the
// flags of RegisterFlags that were set in flags (which may be nil). It
// returns every problem at once: unknown keys and variables, undecodable
// values and Validate's field errors.
func Load(path string, environ []string, flags *pflag.FlagSet) (*Config, error) {
	k := koanf.New(".")
	var errs []error
	if path == "" {
		path = lookupEnv(environ, envConfigFile)
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
	}
	errs = append(errs, loadEnv(k, environ)...)
	if flags != nil {
		if err := loadFlags(k, flags); err != nil {
			return nil, err
		}
	}

	cfg := Default()
	var md mapstructure.Metadata
	err := k.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(durationHook),
		WeaklyTypedInput: true, // environment variables and flags are strings
		Metadata:         &md,
		TagName:          "koanf",
	}})
	errs = append(errs, decodeErrors(err)...)
	for _, key := range unknownKeys(k.Raw(), reflect.TypeFor[Config](), "") {
		errs = append(errs, &FieldError{Field: key, Message: "unknown key"})
	}
	applyProjectDefaults(cfg, md.Keys)
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// loadEnv sets the ROTOR_* variables of environ on k. An unknown ROTOR_
// variable is an error naming it: a typo must not silently do nothing.
func loadEnv(k *koanf.Koanf, environ []string) []error {
	known := envKeys()
	var errs []error
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || name == envConfigFile {
			continue
		}
		path, ok := known[name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown environment variable %s", name))
			continue
		}
		if err := k.Set(path, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errs
}

func loadFlags(k *koanf.Koanf, flags *pflag.FlagSet) error {
	var err error
	flags.Visit(func(f *pflag.Flag) {
		path := f.Name
		if path == redisURLFlag {
			path = "engine.redis_url"
		} else if !slices.Contains(flagKeys, path) {
			return
		}
		if e := k.Set(path, f.Value.String()); e != nil {
			err = errors.Join(err, fmt.Errorf("--%s: %w", f.Name, e))
		}
	})
	return err
}

// decodeErrors turns mapstructure's errors into *FieldErrors naming the
// dotted path of each value that could not be decoded.
func decodeErrors(err error) []error {
	if err == nil {
		return nil
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) && !isJoin(de.Unwrap()) {
		return []error{&FieldError{Field: de.Name(), Message: de.Unwrap().Error()}}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, decodeErrors(e)...)
		}
		return out
	}
	if inner := errors.Unwrap(err); inner != nil {
		return decodeErrors(inner)
	}
	return []error{fmt.Errorf("decode config: %w", err)}
}

func isJoin(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

// unknownKeys returns the dotted paths in raw that name no field of t,
// sorted, descending into sections and into lists of projects and
// namespaces ("structure.projects[0].secrt").
func unknownKeys(raw map[string]any, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		fields[t.Field(i).Tag.Get("koanf")] = t.Field(i).Type
	}
	var out []string
	for key, val := range raw {
		path := prefix + key
		ft, ok := fields[key]
		switch {
		case !ok:
			out = append(out, path)
		case ft.Kind() == reflect.Struct:
			if m, ok := val.(map[string]any); ok {
				out = append(out, unknownKeys(m, ft, path+".")...)
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			list, _ := val.([]any)
			for i, item := range list {
				if m, ok := item.(map[string]any); ok {
					out = append(out, unknownKeys(m, ft.Elem(), fmt.Sprintf("%s[%d].", path, i))...)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

var durationType = reflect.TypeFor[time.Duration]()

// durationHook decodes Go duration strings ("300s") and refuses bare
// numbers other than 0, which would silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := data.(string)
		if s == "0" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration like 300s or 5m", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v has no unit: write a duration like 300s or 5m", data)
	}
	return data, nil
}

// applyProjectDefaults gives keys missing from the file the documented defaults
// (docs/configuration.md, Projects in the file)
// rather than Go's zero values: a project's default_namespace is
// "default", a project without namespaces gets that one namespace, and a
// namespace's history_size, history_ttl and watch default to 100, 5m and
// true. decoded lists the paths the decoder found (mapstructure Metadata).
func applyProjectDefaults(cfg *Config, decoded []string) {
	has := make(map[string]bool, len(decoded))
	for _, k := range decoded {
		has[k] = true
	}
	for i := range cfg.Structure.Projects {
		p := &cfg.Structure.Projects[i]
		prefix := fmt.Sprintf("structure.projects[%d]", i)
		if !has[prefix+".default_namespace"] {
			p.DefaultNamespace = "default"
		}
		if !has[prefix+".namespaces"] {
			p.Namespaces = []Namespace{Namespace(structure.DefaultNamespaceSettings(p.DefaultNamespace))}
			continue
		}
		def := structure.DefaultNamespaceSettings("")
		for j := range p.Namespaces {
			ns := &p.Namespaces[j]
			nsPrefix := fmt.Sprintf("%s.namespaces[%d]", prefix, j)
			if !has[nsPrefix+".history_size"] {
				ns.HistorySize = def.HistorySize
			}
			if !has[nsPrefix+".history_ttl"] {
				ns.HistoryTTL = def.HistoryTTL
			}
			if !has[nsPrefix+".watch"] {
				ns.Watch = def.Watch
			}
		}
	}
}
