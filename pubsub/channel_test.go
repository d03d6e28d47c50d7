package pubsub

import (
	"slices"
	"strings"
	"testing"
)

func TestParseChannel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		ok      bool
		ns      string
		name    string
		private bool
		users   []string
	}{
		{in: "news", ok: true, name: "news"},
		{in: "python:django", ok: true, ns: "python", name: "django"},
		{in: "$secret", ok: true, name: "$secret", private: true},
		{in: "ns:$secret", ok: true, ns: "ns", name: "$secret", private: true},
		{in: "dialog#u1,u2", ok: true, name: "dialog#u1,u2", users: []string{"u1", "u2"}},
		{in: "ns:$d#42", ok: true, ns: "ns", name: "$d#42", private: true, users: []string{"42"}},
		{in: "a-b_c=d@e.f,g;h/i$j!k~l", ok: true, name: "a-b_c=d@e.f,g;h/i$j!k~l"},
		{in: strings.Repeat("x", 255), ok: true, name: strings.Repeat("x", 255)},
		{in: "", ok: false},
		{in: strings.Repeat("x", 256), ok: false},
		{in: "a:b:c", ok: false},
		{in: ":a", ok: false},
		{in: "a:", ok: false},
		{in: "a b", ok: false},
		{in: "a\nb", ok: false},
		{in: "a\x00b", ok: false},
		{in: "a|b", ok: false},
		{in: "é", ok: false},
		{in: "d#", ok: false},
		{in: "d#u1,,u2", ok: false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseChannel(c.in)
			if (err == nil) != c.ok {
				t.Fatalf("ParseChannel(%q) error = %v, want ok %v", c.in, err, c.ok)
			}
			if err != nil {
				if AsError(err).Code != CodeBadRequest {
					t.Fatalf("error code %d, want %d", AsError(err).Code, CodeBadRequest)
				}
				return
			}
			if got.Namespace != c.ns || got.Name != c.name || got.Private != c.private || !slices.Equal(got.Users, c.users) {
				t.Fatalf("ParseChannel(%q) = %+v", c.in, got)
			}
		})
	}
}

func TestAllowsUser(t *testing.T) {
	t.Parallel()
	c, _ := ParseChannel("d#u1,u2")
	for user, want := range map[string]bool{"u1": true, "u2": true, "u3": false, "": false} {
		if got := c.AllowsUser(user); got != want {
			t.Errorf("AllowsUser(%q) = %v, want %v", user, got, want)
		}
	}
	open, _ := ParseChannel("open")
	if !open.AllowsUser("") || !open.AllowsUser("anyone") {
		t.Error("a channel without users must allow everyone")
	}
}

func TestPositions(t *testing.T) {
	t.Parallel()
	roundTrip := [][]Position{
		{{Epoch: "abc", Offset: 0}},
		{{Epoch: "k3j9x0ab", Offset: 12}, {Epoch: "p0q8m2zz", Offset: 0}},
		{{Epoch: "A-b_9", Offset: 18446744073709551615}},
	}
	for _, ps := range roundTrip {
		id := EncodePositions(ps)
		got, err := DecodePositions(id)
		if err != nil || !slices.Equal(got, ps) {
			t.Errorf("round trip %v → %q → %v, %v", ps, id, got, err)
		}
		if strings.ContainsAny(id, "\r\n\x00 ") {
			t.Errorf("id %q holds a forbidden byte", id)
		}
	}
	bad := []string{"", "abc", "abc:", ":1", "abc:-1", "abc:01", "abc:1.", ".abc:1", "a b:1", "abc:1:2",
		"abc:99999999999999999999", strings.Repeat("e", 33) + ":1", "abc:1\n", strings.Repeat("a:1.", MaxStreamChannels) + "a:1"}
	for _, id := range bad {
		if _, err := DecodePositions(id); err == nil {
			t.Errorf("DecodePositions(%q) accepted", id)
		} else if AsError(err).Code != CodeBadRequest {
			t.Errorf("DecodePositions(%q) code %d", id, AsError(err).Code)
		}
	}
}
