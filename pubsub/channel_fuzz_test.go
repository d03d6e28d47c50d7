package pubsub

import (
	"strings"
	"testing"
)

// FuzzParseChannel: no panic; an accepted name obeys the rules of
// docs/protocol.md (Concepts) and its parts
// put back together give the name.
func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"news", "chat:room", "$private", "ns:$a", "dm#u1,u2", "ns:$x#a", "a:b:c", ":a", "a:", "", "a b", "#", "a#", "a#,", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChannel(s)
		if err != nil {
			var perr *Error
			if e, ok := err.(*Error); ok {
				perr = e
			}
			if perr == nil || perr.Code != CodeBadRequest {
				t.Fatalf("ParseChannel(%q) error %v, want code %d", s, err, CodeBadRequest)
			}
			return
		}
		if len(s) == 0 || len(s) > MaxChannelLength || strings.Count(s, ":") > 1 {
			t.Fatalf("ParseChannel(%q) accepted a bad length or colons", s)
		}
		for i := 0; i < len(s); i++ {
			if !channelByte[s[i]] {
				t.Fatalf("ParseChannel(%q) accepted byte %q", s, s[i])
			}
		}
		whole := c.Name
		if c.Namespace != "" {
			whole = c.Namespace + ":" + c.Name
		}
		if c.Full != s || whole != s || c.Name == "" {
			t.Fatalf("ParseChannel(%q) = %+v", s, c)
		}
		if c.Private != strings.HasPrefix(c.Name, "$") {
			t.Fatalf("ParseChannel(%q): private = %v", s, c.Private)
		}
		if strings.Contains(c.Name, "#") != (c.Users != nil) {
			t.Fatalf("ParseChannel(%q): users = %q", s, c.Users)
		}
		for _, u := range c.Users {
			if u == "" || !c.AllowsUser(u) {
				t.Fatalf("ParseChannel(%q): bad user %q", s, u)
			}
		}
		if c.Users != nil && c.AllowsUser("") {
			t.Fatalf("ParseChannel(%q): allows anonymous", s)
		}
	})
}
