package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stdin, password, wantErr string
	}{
		{"line", "correct horse\n", "correct horse", ""},
		{"crlf", "correct horse\r\n", "correct horse", ""},
		{"no newline", "correct horse", "correct horse", ""},
		{"only the first line", "first-password\nsecond\n", "first-password", ""},
		{"empty", "", "", "at least 8"},
		{"short", "short\n", "", "at least 8"},
		{"too long for bcrypt", strings.Repeat("x", 73) + "\n", "", "at most 72"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := newRootCmd(nil)
			var out, errOut bytes.Buffer
			root.SetIn(strings.NewReader(tt.stdin))
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs([]string{"passwd"})
			err := root.ExecuteContext(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if out.Len() != 0 {
					t.Fatalf("printed %q on error", out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hash := strings.TrimSuffix(out.String(), "\n")
			if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != passwdCost {
				t.Fatalf("hash %q: cost %d, %v", hash, cost, err)
			}
			if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(tt.password)); err != nil {
				t.Fatalf("hash does not match %q: %v", tt.password, err)
			}
			// The hash is accepted as admin.password_hash.
			cfg := writeConfig(t, "admin:\n  password_hash: \""+hash+"\"\n")
			if _, err := run(t, nil, "checkconfig", "--config", cfg); err != nil {
				t.Fatalf("checkconfig with the hash: %v", err)
			}
		})
	}
}
