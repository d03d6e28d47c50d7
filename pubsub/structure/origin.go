package structure

import (
	"fmt"
	"net/url"
	"strings"
)

// CheckOrigin reports whether o can be an entry of allowed_origins: "*",
// or an origin as a browser sends it, http(s)://host[:port], with at most
// a trailing "/" (OriginListed ignores it). "null" is refused: the pages
// that send it (sandboxed frames, file: pages) cannot be told apart, so
// naming it would name all of them.
func CheckOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an origin: write it as https://example.com[:port], or \"*\"", o)
	}
	return nil
}

// OriginListed reports whether allowed names origin (as a browser sends
// it) explicitly; "*" does not count. Case and a trailing "/" are ignored.
func OriginListed(allowed []string, origin string) bool {
	for _, o := range allowed {
		if o != "*" && strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}
