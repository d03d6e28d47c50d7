package structure

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Project
		fields []string
	}{
		{"none set", Project{}, nil},
		{"all good", Project{AuthURL: "https://app.example/auth", PublishHookURL: "http://127.0.0.1:9/hook",
			EventsHookURL: "https://h.example", AllowedOrigins: []string{"*", "https://app.example"}}, nil},
		{"relative auth url", Project{AuthURL: "/auth"}, []string{"auth_url"}},
		{"ftp hook", Project{PublishHookURL: "ftp://h.example/x"}, []string{"publish_hook_url"}},
		{"no host", Project{EventsHookURL: "https://"}, []string{"events_hook_url"}},
		{"bad origins", Project{AllowedOrigins: []string{"https://ok.example", "ok.example", "null"}},
			[]string{"allowed_origins[1]", "allowed_origins[2]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := tc.p.CheckEndpoints(); err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *FieldError
					if !errors.As(e, &fe) {
						t.Fatalf("%v is not a *FieldError", e)
					}
					got = append(got, fe.Field)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}
