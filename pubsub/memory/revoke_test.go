package memory

import (
	"testing"
	"time"
)

func TestRevoke(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	type mark struct {
		before time.Time
		ttl    time.Duration
	}
	tests := []struct {
		name    string
		marks   []mark
		advance time.Duration
		want    time.Time
	}{
		{"none", nil, 0, time.Time{}},
		{"live", []mark{{base, time.Hour}}, 59 * time.Minute, base},
		{"expired", []mark{{base, time.Hour}}, time.Hour, time.Time{}},
		{"later before kept", []mark{{base.Add(time.Minute), time.Hour}, {base, time.Hour}}, 0, base.Add(time.Minute)},
		{"later before replaces", []mark{{base, time.Hour}, {base.Add(time.Minute), time.Hour}}, 0, base.Add(time.Minute)},
		{"longer ttl kept", []mark{{base, 2 * time.Hour}, {base, time.Minute}}, time.Hour, base},
		{"second mark extends", []mark{{base, time.Minute}, {base, time.Hour}}, 30 * time.Minute, base},
		{"zero ttl uses default", []mark{{base, 0}}, 23 * time.Hour, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := New(Options{Now: clock.Now})
			for _, m := range tt.marks {
				if err := e.Revoke(t.Context(), "p|u1", m.before, m.ttl); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(tt.advance)
			got, err := e.RevokedBefore(t.Context(), "p|u1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("RevokedBefore = %v, want %v", got, tt.want)
			}
			other, _ := e.RevokedBefore(t.Context(), "p|u2")
			if !other.IsZero() {
				t.Errorf("another user is revoked: %v", other)
			}
		})
	}
}
