package loadgen

import (
	"bytes"
	"strconv"
)

// appendPayload appends the JSON data of one publication:
// {"seq":N,"ts":UNIX_NS,"p":"xxx…"}, padded with 'x' to size bytes when
// size is larger than the fields alone.
func appendPayload(b []byte, seq uint64, ts int64, size int) []byte {
	start := len(b)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"p":"`...)
	for pad := size - (len(b) - start) - 2; pad > 0; pad-- {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// pubFields are what a subscriber reads from a pub event's data.
type pubFields struct {
	channel []byte
	offset  uint64
	seq     uint64
	ts      int64
}

var (
	keyChannel = []byte(`"channel":"`)
	keyOffset  = []byte(`"offset":`)
	keySeq     = []byte(`"seq":`)
	keyTS      = []byte(`"ts":`)
)

// parsePub reads channel, offset, seq and ts from the data of a pub event,
// {"channel":"c","offset":N,"data":{"seq":S,"ts":T,...}}, by hand: no
// allocation, no reflection. seq and ts are optional (ok stays true
// without them, ts 0); channel and offset are required.
func parsePub(d []byte) (pubFields, bool) {
	var f pubFields
	var ok bool
	if f.channel, ok = stringField(d, keyChannel); !ok {
		return f, false
	}
	if f.offset, ok = uintField(d, keyOffset); !ok {
		return f, false
	}
	// The publication's own data comes after the envelope's fields.
	if i := bytes.Index(d, []byte(`"data":`)); i >= 0 {
		inner := d[i:]
		f.seq, _ = uintField(inner, keySeq)
		if ts, ok := uintField(inner, keyTS); ok {
			f.ts = int64(ts)
		}
	}
	return f, true
}

// parseSub reads channel and offset from a sub event's data,
// {"channel":"c","epoch":"e","offset":N,"recovered":true}.
func parseSub(d []byte) (channel []byte, offset uint64, recovered bool, ok bool) {
	if channel, ok = stringField(d, keyChannel); !ok {
		return nil, 0, false, false
	}
	if offset, ok = uintField(d, keyOffset); !ok {
		return nil, 0, false, false
	}
	return channel, offset, bytes.Contains(d, []byte(`"recovered":true`)), true
}

func stringField(d, key []byte) ([]byte, bool) {
	i := bytes.Index(d, key)
	if i < 0 {
		return nil, false
	}
	rest := d[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

func uintField(d, key []byte) (uint64, bool) {
	i := bytes.Index(d, key)
	if i < 0 {
		return 0, false
	}
	rest := d[i+len(key):]
	var v uint64
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		v = v*10 + uint64(rest[n]-'0')
		n++
	}
	return v, n > 0
}
