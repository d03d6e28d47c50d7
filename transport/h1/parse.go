package h1

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseHead parses the request head at the start of b when the whole head
// is there and lies in the plain subset of HTTP/1.1 that a poll, an
// EventSource or a fetch without a body sends: an origin-form target,
// HTTP/1.1, CRLF line ends, no folded lines, no body (neither
// Content-Length nor Transfer-Encoding nor Trailer) and at most one Host.
// The request it returns is the one http.ReadRequest returns for those
// bytes, and n is the length of the head. ok is false for anything else,
// which the caller hands to http.ReadRequest (it reads and rejects exactly
// as net/http does); n is 0 then when b holds no complete head. The
// strings of the request share one copy of the head.
func parseHead(b []byte) (req http.Request, n int, ok bool) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		return req, 0, false
	}
	n = end + 4
	s := string(b[:end+2]) // every line with its CRLF
	line, s, lineOK := nextLine(s)
	if !lineOK {
		return req, n, false
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !httpguts.ValidHeaderFieldName(method) || method == http.MethodConnect || method == "PRI" {
		return req, n, false
	}
	u, targetOK := parseTarget(target)
	if !targetOK {
		return req, n, false
	}
	// One backing array for the values, as textproto does: most keys
	// have one.
	values := make([]string, strings.Count(s, "\n"))
	h := make(http.Header, len(values))
	hasHost := false
	for s != "" {
		if line, s, lineOK = nextLine(s); !lineOK || line == "" || line[0] == ' ' || line[0] == '\t' {
			return req, n, false
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return req, n, false
		}
		k = canonicalKey(k)
		v = strings.Trim(v, " \t")
		switch k {
		case "Content-Length", "Transfer-Encoding", "Trailer":
			return req, n, false
		}
		if k == "Host" {
			if hasHost {
				return req, n, false // "too many Host headers"
			}
			// As http.ReadRequest: the request's Host, not in Header.
			req.Host, hasHost = v, true
			continue
		}
		if vv, seen := h[k]; seen {
			h[k] = append(vv, v)
			continue
		}
		vv := values[:1:1]
		values = values[1:]
		vv[0] = v
		h[k] = vv
	}
	if hp := h["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	req.Method, req.URL, req.Proto, req.ProtoMajor, req.ProtoMinor = method, u, proto, 1, 1
	req.Header, req.Body, req.RequestURI = h, http.NoBody, target
	req.Close = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	return req, n, true
}

var crlfcrlf = []byte("\r\n\r\n")

// nextLine cuts the first CRLF-ended line off s; false when a line ends
// in a bare LF.
func nextLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 1 || s[i-1] != '\r' {
		return "", "", false
	}
	return s[:i-1], s[i+1:], true
}

// parseTarget is url.ParseRequestURI for an origin-form target, without
// its allocation of the URL's parts when the path needs no unescaping.
func parseTarget(target string) (*url.URL, bool) {
	if !strings.HasPrefix(target, "/") {
		return nil, false
	}
	u := &url.URL{}
	path := target
	if strings.HasSuffix(path, "?") && strings.Count(path, "?") == 1 {
		u.ForceQuery, path = true, path[:len(path)-1]
	} else {
		path, u.RawQuery, _ = strings.Cut(path, "?")
	}
	for i := 0; i < len(path); i++ {
		if !pathByte(path[i]) {
			// Escapes, or bytes url.URL keeps a RawPath for.
			pu, err := url.ParseRequestURI(target)
			return pu, err == nil
		}
	}
	for i := 0; i < len(u.RawQuery); i++ {
		if c := u.RawQuery[i]; c < ' ' || c == 0x7f {
			return nil, false
		}
	}
	u.Path = path
	return u, true
}

// pathByte reports whether c stands for itself in a path: url.URL takes
// such a path as it is, with no RawPath.
func pathByte(c byte) bool { return pathBytes[c] }

var pathBytes = byteSet("-_.~$&+,/:;=@")

// byteSet is the ASCII letters and digits and the bytes of more.
func byteSet(more string) (set [256]bool) {
	for c := range set {
		set[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(more, byte(c)) >= 0
	}
	return set
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey of a token, with no
// allocation when k is in canonical form already (as clients send it).
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}
