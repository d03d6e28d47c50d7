package pubsub

import (
	"encoding/json"
	"strconv"
)

// EventKind is the kind of an event a stream carries (docs/protocol.md, Events).
type EventKind uint8

// Event kinds, in the SSE `event:` spelling given by String.
const (
	EventPub EventKind = iota + 1
	EventJoin
	EventLeave
	EventUnsub
	EventSub
	EventDisconnect
	// EventResync is internal: the engine may have missed deliveries, the
	// stream must check its channels against history.
	EventResync
)

var eventNames = [...]string{"", "pub", "join", "leave", "unsub", "sub", "disconnect", "resync"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event" + strconv.Itoa(int(k))
}

// Message is one event for a channel's subscribers, encoded once and shared
// by every stream that receives it. It must not be modified once queued.
type Message struct {
	Kind EventKind
	// Key is the engine key of the channel.
	Key string
	// Epoch and Offset are the publication's position (EventPub only).
	Epoch  string
	Offset uint64
	// JSON is the event's `data` in wire form (docs/protocol.md, Events), one line.
	JSON []byte
}

// size is what the message costs a queue: its bytes plus a fixed overhead
// for the id and framing.
func (m *Message) size() int { return len(m.JSON) + 64 }

// encodePublication builds the shared message for a publication.
func encodePublication(key string, pub *Publication) (*Message, error) {
	_, channel := SplitKey(key)
	b, err := AppendPublication(make([]byte, 0, len(channel)+len(pub.Data)+64), channel, pub)
	if err != nil {
		return nil, err
	}
	return &Message{Kind: EventPub, Key: key, Epoch: pub.Epoch, Offset: pub.Offset, JSON: b}, nil
}

// AppendPublication appends the wire form of pub in channel (the `data`
// of a `pub` event, docs/protocol.md, Events) to b. It is the one encoder
// of publications on streams: a live publication and the same one read
// from history are the same bytes. pub.Channel is not used.
func AppendPublication(b []byte, channel string, pub *Publication) ([]byte, error) {
	// Append by hand: this runs once per publication per node, and the data
	// is already compact JSON validated at the edge.
	b = append(b, `{"channel":`...)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, pub.Offset, 10)
	b = append(b, `,"data":`...)
	b = append(b, pub.Data...)
	if pub.Info != nil {
		info, err := json.Marshal(pub.Info)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"info":`...)
		b = append(b, info...)
	}
	b = append(b, '}')
	return b, nil
}

// presenceEvent is the wire form of join and leave (docs/protocol.md, Events).
type presenceEvent struct {
	Channel  string          `json:"channel"`
	Client   string          `json:"client"`
	User     string          `json:"user"`
	Info     json.RawMessage `json:"info,omitempty"`
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

func encodePresence(kind EventKind, key string, info *ClientInfo) (*Message, error) {
	_, channel := SplitKey(key)
	b, err := json.Marshal(presenceEvent{Channel: channel, Client: info.Client, User: info.User, Info: info.Info, ChanInfo: info.ChanInfo})
	if err != nil {
		return nil, err
	}
	return &Message{Kind: kind, Key: key, JSON: b}, nil
}
