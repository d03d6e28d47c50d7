package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the rotor command in-process with args and a hermetic
// environment, returning stdout and the error.
func run(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(environ)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rotor.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testSecret = "0123456789abcdef0123456789abcdef-test"

// fileConfig is a config with the file store and one project.
func fileConfig(t *testing.T, extra string) string {
	t.Helper()
	return writeConfig(t, `
structure:
  store: file
  projects:
    - id: demo
      secret: "`+testSecret+`"
      api_key: demo-key
`+extra)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := run(t, nil, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "rotor dev go1.") {
		t.Fatalf("version = %q", out)
	}
}

func TestGenconfigThenCheckconfig(t *testing.T) {
	t.Parallel()
	out, err := run(t, nil, "genconfig")
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, out)
	got, err := run(t, nil, "checkconfig", "--config", path)
	if err != nil || got != "config OK\n" {
		t.Fatalf("checkconfig = %q, %v", got, err)
	}
}

func TestCheckconfigNamesEveryField(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "engine:\n  type: etcd\nhttp:\n  ping: 0s\n  color: red\nlog:\n  level: loud\n")
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    []string
		ok      bool
	}{
		{"file", nil, []string{"checkconfig", "--config", path},
			[]string{"engine.type", "http.ping", "http.color: unknown key", "log.level"}, false},
		{"config from env", []string{"ROTOR_CONFIG=" + path}, []string{"checkconfig"},
			[]string{"engine.type", "http.ping", "log.level"}, false},
		{"env and flags", []string{"ROTOR_LOG_FORMAT=yaml"}, []string{"checkconfig", "--engine.type=redis"},
			[]string{"log.format", "engine.redis_url"}, false},
		{"defaults", nil, []string{"checkconfig"}, nil, true},
		{"engine store with the memory engine", nil, []string{"checkconfig", "--structure.store=engine"},
			[]string{"structure.store: engine reads the structure another node wrote into Redis, so it needs engine.type redis"}, false},
		{"engine store with redis", nil, []string{"checkconfig", "--structure.store=engine", "--redis-url=redis://r:6379/0", "--engine.type=redis"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := run(t, tt.environ, tt.args...)
			if tt.ok {
				if err != nil || out != "config OK\n" {
					t.Fatalf("got %q, %v", out, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkconfig succeeded: %q", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestDevModeOnlyWhenBare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string
		environ []string
		want    bool
	}{
		{"nothing at all", "", []string{"PATH=/usr/bin", "HOME=/tmp"}, true},
		{"config flag", "rotor.yaml", nil, false},
		{"ROTOR_CONFIG", "", []string{"ROTOR_CONFIG=rotor.yaml"}, false},
		{"any ROTOR_ variable", "", []string{"ROTOR_HTTP_ADDRESS=:9000"}, false},
		{"empty ROTOR_ variable", "", []string{"ROTOR_LOG_LEVEL="}, false},
		{"other prefixes do not count", "", []string{"XROTOR_HTTP_ADDRESS=:1", "rotor_x=1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &globalFlags{configPath: tt.config, environ: tt.environ}
			if got := g.devMode(); got != tt.want {
				t.Fatalf("devMode() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDockerfileNeverDevMode reads the image's default command: it must
// give serve a config file, so a container never starts in dev mode.
func TestDockerfileNeverDevMode(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "CMD ") {
			cmd = line
		}
	}
	if !strings.Contains(cmd, `"serve"`) || !strings.Contains(cmd, `"--config"`) {
		t.Fatalf("Dockerfile CMD is %q, want serve with --config", cmd)
	}
}

func TestCheckconfigWarnsOfIgnoredProjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, store string
		warn        bool
	}{
		{"file store serves them", "file", false},
		{"sqlite store ignores them", "sqlite", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, `
structure:
  store: `+tt.store+`
  sqlite_path: `+filepath.Join(t.TempDir(), "rotor.db")+`
  projects:
    - id: demo
      secret: "`+testSecret+`"
      api_key: demo-key
`)
			root := newRootCmd(nil)
			var out, errOut bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs([]string{"checkconfig", "--config", path})
			if err := root.ExecuteContext(t.Context()); err != nil {
				t.Fatal(err)
			}
			if out.String() != "config OK\n" {
				t.Fatalf("stdout = %q", out.String())
			}
			if got := strings.Contains(errOut.String(), "warning: structure.projects is ignored"); got != tt.warn {
				t.Fatalf("stderr = %q, want a warning: %v", errOut.String(), tt.warn)
			}
		})
	}
}
