// Package loadgen is the load generator behind `rotor bench` (docs/benchmarks.md):
// it opens many SSE or long-poll subscribers against a Rotor server,
// publishes through the server API at a fixed rate or in a closed loop,
// and reports connect rate, deliveries per second, publish→receive
// latency, loss and duplicates per subscriber, and the server's RSS and
// CPU when given its PID.
//
// The client side is built to stay off the critical path on one core: a
// raw net.Conn per subscriber, one bufio.Reader, a hand-written SSE parser
// and hand-parsed JSON fields, so the steady state allocates nothing per
// delivery.
package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// Transports.
const (
	TransportSSE  = "sse"
	TransportPoll = "poll"
)

// Config is one run. Zero values mean the defaults given per field.
type Config struct {
	// URL is the server's base, e.g. http://127.0.0.1:8000. Required.
	URL string
	// Project is the project id. Required.
	Project string
	// Secret signs connection tokens (HS256), one per subscriber; or Token
	// is used by every subscriber. One of them is required.
	Secret string
	Token  string
	// APIKey authorizes publishing. Required unless Idle.
	APIKey string
	// Transport is "sse" (default) or "poll".
	Transport string
	// Namespace prefixes channel names ("ns:"); "" means the project's
	// default namespace, whose history must be on for loss accounting.
	Namespace string
	// Subscribers is the number of connections; 0 means 100.
	Subscribers int
	// Channels is the number of channels; subscriber i listens to channel
	// i mod Channels. 0 means 1.
	Channels int
	// Rate is publications per second; 0 means a closed loop with Inflight
	// publishers, each sending the next as soon as the last is answered.
	Rate float64
	// Inflight is the number of concurrent publish requests; 0 means 8.
	Inflight int
	// Idle connects the subscribers, holds them for Duration and publishes
	// nothing (W1: memory per idle connection).
	Idle bool
	// Duration bounds the publishing phase; 0 means 10s.
	Duration time.Duration
	// Messages caps the publications; 0 means no cap.
	Messages uint64
	// Payload is the size of each publication's JSON data in bytes; 0
	// means 100.
	Payload int
	// PID is the server's process id, for RSS and CPU; 0 means unknown.
	PID int
	// SourceIPs spread connections over these local addresses (each gives
	// ~28k ephemeral ports); empty means the kernel's choice.
	SourceIPs []net.IP
	// ConnectRate bounds new connections per second; 0 means no bound.
	ConnectRate float64
	// ConnectConcurrency bounds handshakes in progress; 0 means 256.
	ConnectConcurrency int
	// ConnectTimeout bounds the whole connect phase; 0 means 60s.
	ConnectTimeout time.Duration
	// Drain is how long to wait after the last publication for every
	// subscriber to catch up; 0 means 10s.
	Drain time.Duration
	// Settle is the pause after connecting before RSS is read; 0 means 1s.
	Settle time.Duration
	// PollTimeout is the long-poll timeout in seconds; 0 means 25.
	PollTimeout int
	// Progress receives a line every second; nil means none.
	Progress io.Writer
}

func (c *Config) setDefaults() {
	if c.Transport == "" {
		c.Transport = TransportSSE
	}
	if c.Subscribers == 0 {
		c.Subscribers = 100
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.Inflight == 0 {
		c.Inflight = 8
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Payload == 0 {
		c.Payload = 100
	}
	if c.ConnectConcurrency == 0 {
		c.ConnectConcurrency = 256
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = time.Second
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = 25
	}
}

func (c *Config) validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("url is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("url: %w", err))
	case u.Scheme != "http":
		errs = append(errs, fmt.Errorf("url: only http:// is supported (got %q)", u.Scheme))
	}
	if c.Project == "" {
		errs = append(errs, errors.New("project is required"))
	}
	if c.Secret == "" && c.Token == "" {
		errs = append(errs, errors.New("secret or token is required"))
	}
	if c.APIKey == "" && !c.Idle {
		errs = append(errs, errors.New("api key is required to publish"))
	}
	if c.Transport != TransportSSE && c.Transport != TransportPoll {
		errs = append(errs, fmt.Errorf("transport must be sse or poll (got %q)", c.Transport))
	}
	if c.Subscribers < 0 || c.Channels < 0 || c.Inflight < 0 || c.Payload < 0 || c.Rate < 0 {
		errs = append(errs, errors.New("subscribers, channels, inflight, payload and rate must not be negative"))
	}
	if c.Channels > c.Subscribers && c.Subscribers > 0 {
		errs = append(errs, errors.New("channels must not exceed subscribers"))
	}
	return errors.Join(errs...)
}
