package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// sseEvent is one dispatched Server-Sent Event. Its slices belong to the
// reader and are valid only until the next call to next.
type sseEvent struct {
	ID   []byte // the last event ID seen on the stream (it persists across events)
	Name []byte // the event field; empty means "message"
	Data []byte // data lines joined by '\n'
}

// maxSSELine bounds one line so a broken server cannot grow the reader
// without limit.
const maxSSELine = 1 << 20

var errLineTooLong = errors.New("sse: line longer than 1 MiB")

// sseReader is a minimal, allocation-free (in steady state) parser of the
// text/event-stream format (WHATWG HTML §9.2.6): lines end with "\n" or
// "\r\n" (a lone "\r" terminator is not supported: Rotor never sends it),
// comments start with ':', "field: value" strips one space after the
// colon, an empty line dispatches. It keeps its buffers between events.
type sseReader struct {
	r        *bufio.Reader
	id       []byte
	name     []byte
	data     []byte
	long     []byte // a line that did not fit the bufio buffer
	comments int    // comment lines (heartbeats) seen
}

func newSSEReader(r *bufio.Reader) *sseReader { return &sseReader{r: r} }

// next returns the next event, skipping comments and "retry:".
func (p *sseReader) next() (sseEvent, error) {
	p.name = p.name[:0]
	p.data = p.data[:0]
	hasData := false
	for {
		line, err := p.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !hasData {
				// An event without data is not dispatched (WHATWG).
				p.name = p.name[:0]
				continue
			}
			return sseEvent{ID: p.id, Name: p.name, Data: p.data}, nil
		}
		if line[0] == ':' {
			p.comments++
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			p.name = append(p.name[:0], value...)
		case "data":
			if hasData {
				p.data = append(p.data, '\n')
			}
			p.data = append(p.data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.id = append(p.id[:0], value...)
			}
		}
	}
}

// readLine returns one line without its terminator.
func (p *sseReader) readLine() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		p.long = append(p.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(p.long) > maxSSELine {
				return nil, errLineTooLong
			}
			line, err = p.r.ReadSlice('\n')
			p.long = append(p.long, line...)
		}
		line = p.long
	}
	if err != nil {
		return nil, fmt.Errorf("sse: read: %w", err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
