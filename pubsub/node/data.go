package node

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/rotor-rt/rotor/pubsub"
)

// CompactData validates publication data and removes insignificant
// whitespace, so its encoding never holds a newline (one SSE data line) and
// every subscriber gets the same bytes. Data must be UTF-8 (RFC 8259 §8.1):
// encoding/json keeps a RawMessage's bytes as sent and json.Compact does
// not check them, so without this check invalid bytes would be stored and
// relayed inside application/json and text/event-stream answers.
func CompactData(data json.RawMessage) (json.RawMessage, *pubsub.Error) {
	if len(data) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is required")
	}
	if !utf8.Valid(data) {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is not valid UTF-8")
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}
