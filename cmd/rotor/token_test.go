package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotor-rt/rotor/admin/sqlite"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
)

func parseToken(t *testing.T, tok, secret string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("token %q does not verify: %v", tok, err)
	}
	return claims
}

func TestToken(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t, "")
	tests := []struct {
		name string
		args []string
		want jwt.MapClaims // exp checked separately
		ttl  time.Duration
	}{
		{"connection", []string{"--user", "42"}, jwt.MapClaims{"sub": "42"}, time.Hour},
		{"info and ttl", []string{"--user", "7", "--ttl", "5m", "--info", `{"name":"Ann"}`},
			jwt.MapClaims{"sub": "7", "info": map[string]any{"name": "Ann"}}, 5 * time.Minute},
		{"subscription", []string{"--user", "42", "--channel", "chat:$room"},
			jwt.MapClaims{"sub": "42", "channel": "chat:$room"}, time.Hour},
		{"no expiry", []string{"--user", "1", "--ttl", "0"}, jwt.MapClaims{"sub": "1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"token", "--config", cfg, "--project", "demo"}, tt.args...)
			before := time.Now()
			out, err := run(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			claims := parseToken(t, strings.TrimSpace(out), testSecret)
			exp, hasExp := claims["exp"]
			delete(claims, "exp")
			if !reflect.DeepEqual(claims, tt.want) {
				t.Errorf("claims = %v, want %v", claims, tt.want)
			}
			if tt.ttl == 0 {
				if hasExp {
					t.Errorf("exp = %v, want none", exp)
				}
				return
			}
			got := time.Unix(int64(exp.(float64)), 0)
			if lo, hi := before.Add(tt.ttl).Add(-time.Second), time.Now().Add(tt.ttl).Add(time.Second); got.Before(lo) || got.After(hi) {
				t.Errorf("exp = %v, want within [%v, %v]", got, lo, hi)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	cfg := fileConfig(t, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown project", []string{"--project", "nope", "--user", "1"}, "not found"},
		{"info not object", []string{"--project", "demo", "--user", "1", "--info", "[1]"}, "--info must be a JSON object"},
		{"missing user", []string{"--project", "demo"}, "user"},
		{"negative ttl", []string{"--project", "demo", "--user", "1", "--ttl", "-1s"}, "--ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(t, nil, append([]string{"token", "--config", cfg}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestTokenFromSQLite(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "rotor.db")
	seedSQLite(t, dbPath, domain.Project{
		ID: "shop", Name: "Shop", Secret: testSecret, APIKey: "shop-key", DefaultNamespace: "default",
		Namespaces: []domain.Namespace{domain.DefaultNamespaceSettings("default")},
	})
	out, err := run(t, []string{"ROTOR_STRUCTURE_SQLITE_PATH=" + dbPath}, "token", "--project", "shop", "--user", "9")
	if err != nil {
		t.Fatal(err)
	}
	if claims := parseToken(t, strings.TrimSpace(out), testSecret); claims["sub"] != "9" {
		t.Fatalf("claims = %v", claims)
	}

	// A missing database is an error, and is not created by the lookup.
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := run(t, nil, "token", "--structure.sqlite_path", missing, "--project", "shop", "--user", "9"); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v, want a missing database error", err)
	}
}

func seedSQLite(t *testing.T, path string, projects ...domain.Project) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range projects {
		if err := s.CreateProject(ctx, &projects[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
