package h1

import (
	"net/http"
	"strconv"
	"strings"
)

// AppendHead appends to dst the head of a response written by hand on a
// hijacked connection: the status line, h's fields and the blank line
// that ends them. Unlike http.Header.Write it neither sorts the fields
// (the order of fields of different names carries no meaning, RFC 9110
// §5.3) nor goes through an io.Writer, so the head costs one append.
func AppendHead(dst []byte, status int, h http.Header) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, '\r', '\n')
	return append(appendFields(dst, h), '\r', '\n')
}

// appendFields appends h's fields, one line per value.
func appendFields(dst []byte, h http.Header) []byte {
	for k, vs := range h {
		for _, v := range vs {
			dst = append(dst, k...)
			dst = append(dst, ':', ' ')
			// As http.Header.Write: a line break never splits a field.
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
			}
			dst = append(dst, strings.TrimSpace(v)...)
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}
