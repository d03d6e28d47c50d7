package redis

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rotor-rt/rotor/pubsub"
)

// Messages on a channel's topic start with one byte saying what follows:
// 'p' a publication as the publish script writes it
// ({"o":offset,"e":"epoch","d":data,"i":info}), 'j' and 'l' a ClientInfo
// joining or leaving. Joins and publications share the topic so that the
// Handler sees them in the order they were made.
type wirePublication struct {
	Offset uint64             `json:"o"`
	Epoch  string             `json:"e"`
	Data   json.RawMessage    `json:"d"`
	Info   *pubsub.ClientInfo `json:"i,omitempty"`
}

// deliver decodes one topic message and calls the Handler.
func deliver(h pubsub.Handler, key, payload string) error {
	if payload == "" {
		return errors.New("empty message")
	}
	body := []byte(payload[1:])
	switch payload[0] {
	case 'p':
		var w wirePublication
		if err := json.Unmarshal(body, &w); err != nil {
			return fmt.Errorf("decode publication: %w", err)
		}
		h.HandlePublication(key, &pubsub.Publication{Offset: w.Offset, Epoch: w.Epoch, Data: w.Data, Info: w.Info})
	case 'j', 'l':
		info := new(pubsub.ClientInfo)
		if err := json.Unmarshal(body, info); err != nil {
			return fmt.Errorf("decode client info: %w", err)
		}
		if payload[0] == 'j' {
			h.HandleJoin(key, info)
		} else {
			h.HandleLeave(key, info)
		}
	default:
		return fmt.Errorf("unknown message kind %q", payload[0])
	}
	return nil
}
