package pubsub

import (
	"strconv"
	"strings"
)

// MaxStreamChannels bounds the channels one position vector may carry, so a
// hostile id cannot make the server allocate without limit.
const MaxStreamChannels = 1024

// AppendPositions appends the stream id that encodes positions in order:
// `epoch:offset` items joined by '.'. The id is opaque to applications (the
// JS client builds it from `sub` and `pub` data); it never contains CR, LF,
// NUL or spaces, so it is safe in an SSE `id:` field and in a URL.
func AppendPositions(dst []byte, ps []Position) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = append(dst, p.Epoch...)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, p.Offset, 10)
	}
	return dst
}

// EncodePositions returns the stream id of ps.
func EncodePositions(ps []Position) string { return string(AppendPositions(nil, ps)) }

// validEpoch reports whether s may be an epoch: 1-32 bytes of [A-Za-z0-9_-].
func validEpoch(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DecodePositions parses a stream id made by EncodePositions. Errors are
// *Error with code 107.
func DecodePositions(id string) ([]Position, error) {
	if id == "" {
		return nil, Errorf(CodeBadRequest, "empty stream id")
	}
	if strings.Count(id, ".") >= MaxStreamChannels {
		return nil, Errorf(CodeBadRequest, "stream id has more than %d positions", MaxStreamChannels)
	}
	parts := strings.Split(id, ".")
	ps := make([]Position, len(parts))
	for i, part := range parts {
		epoch, off, ok := strings.Cut(part, ":")
		if !ok || !validEpoch(epoch) {
			return nil, Errorf(CodeBadRequest, "malformed stream id")
		}
		n, err := strconv.ParseUint(off, 10, 64)
		if err != nil || (len(off) > 1 && off[0] == '0') {
			return nil, Errorf(CodeBadRequest, "malformed stream id")
		}
		ps[i] = Position{Epoch: epoch, Offset: n}
	}
	return ps, nil
}
