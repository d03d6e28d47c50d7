package config

import (
	"slices"
	"strings"
	"testing"
)

// TestValidateAllowedOrigins: an entry a browser's Origin could never
// match is an error naming it, not a silently dead line.
func TestValidateAllowedOrigins(t *testing.T) {
	t.Parallel()
	cases := []struct {
		origins []string
		bad     []string
	}{
		{nil, nil},
		{[]string{"*", "https://app.example.com", "http://127.0.0.1:3000/"}, nil},
		{[]string{"https://app.example.com/login", "null", "*"}, []string{
			"structure.projects[0].allowed_origins[0]", "structure.projects[0].allowed_origins[1]",
		}},
	}
	for _, c := range cases {
		cfg := Default()
		cfg.Structure.Store = StoreFile
		cfg.Structure.Projects = []Project{{
			ID: "p", Secret: strings.Repeat("s", 32), APIKey: "k", DefaultNamespace: "d",
			Namespaces: []Namespace{{Name: "d"}}, AllowedOrigins: c.origins,
		}}
		var got []string
		for _, f := range fieldsOf(cfg.Validate()) {
			if strings.Contains(f, "allowed_origins") {
				got = append(got, f)
			}
		}
		if !slices.Equal(got, c.bad) {
			t.Errorf("allowed_origins %q: bad fields %q, want %q", c.origins, got, c.bad)
		}
	}
}
