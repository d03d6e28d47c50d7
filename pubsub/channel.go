package pubsub

import (
	"strings"
)

// MaxChannelLength is the longest channel name in bytes (docs/protocol.md, Concepts).
const MaxChannelLength = 255

// Channel is a parsed channel name (docs/protocol.md, Concepts): `namespace:name` or `name`.
type Channel struct {
	// Full is the name as the client wrote it.
	Full string
	// Namespace is the part before ':', or "" for the project's default.
	Namespace string
	// Name is the part after ':' (or the whole name).
	Name string
	// Private is true when Name starts with '$': subscribing needs a grant
	// from the app (docs/protocol.md, Private channels).
	Private bool
	// Users lists the users allowed in a user-limited channel
	// (`name#u1,u2`); nil when the channel is not user-limited.
	Users []string
}

// channelByte reports whether b may appear in a channel name.
var channelByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-=@.,;/$#!~:" {
		t[c] = true
	}
	return t
}()

// ParseChannel validates a channel name and splits it. Errors are
// *Error with code 107 (bad request).
func ParseChannel(s string) (Channel, error) {
	if len(s) == 0 || len(s) > MaxChannelLength {
		return Channel{}, Errorf(CodeBadRequest, "channel name must be 1-%d bytes", MaxChannelLength)
	}
	colons := 0
	for i := 0; i < len(s); i++ {
		if !channelByte[s[i]] {
			return Channel{}, Errorf(CodeBadRequest, "channel name %q has a character outside [A-Za-z0-9_-=@.,;/$#!~:]", s)
		}
		if s[i] == ':' {
			colons++
		}
	}
	if colons > 1 {
		return Channel{}, Errorf(CodeBadRequest, "channel name %q has more than one ':'", s)
	}
	c := Channel{Full: s, Name: s}
	if colons == 1 {
		c.Namespace, c.Name, _ = strings.Cut(s, ":")
		if c.Namespace == "" || c.Name == "" {
			return Channel{}, Errorf(CodeBadRequest, "channel name %q has an empty namespace or name", s)
		}
	}
	c.Private = strings.HasPrefix(c.Name, "$")
	if i := strings.LastIndexByte(c.Name, '#'); i >= 0 {
		users := strings.Split(c.Name[i+1:], ",")
		for _, u := range users {
			if u == "" {
				return Channel{}, Errorf(CodeBadRequest, "channel name %q has an empty user after '#'", s)
			}
		}
		c.Users = users
	}
	return c, nil
}

// AllowsUser reports whether user may subscribe to a user-limited channel;
// channels that are not user-limited allow everyone.
func (c Channel) AllowsUser(user string) bool {
	if c.Users == nil {
		return true
	}
	if user == "" {
		return false
	}
	for _, u := range c.Users {
		if u == user {
			return true
		}
	}
	return false
}
