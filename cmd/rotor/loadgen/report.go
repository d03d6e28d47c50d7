package loadgen

import (
	"fmt"
	"io"
)

// Report is the outcome of one Run. Times are seconds, latencies
// milliseconds, memory KiB.
type Report struct {
	Transport    string  `json:"transport"`
	Mode         string  `json:"mode"`
	Subscribers  int     `json:"subscribers"`
	Channels     int     `json:"channels"`
	Rate         float64 `json:"rate"`
	Inflight     int     `json:"inflight"`
	PayloadBytes int     `json:"payload_bytes"`
	Idle         bool    `json:"idle"`

	Connect struct {
		Connected int     `json:"connected"`
		Failed    int     `json:"failed"`
		Seconds   float64 `json:"seconds"`
		PerSecond float64 `json:"per_second"`
		// GeneratorCPUSeconds is this process's CPU while connecting
		// (the server's is in ServerStats.ConnectCPUSeconds).
		GeneratorCPUSeconds float64 `json:"generator_cpu_seconds"`
	} `json:"connect"`

	Published         uint64  `json:"published"`
	PublishErrors     uint64  `json:"publish_errors"`
	PublishBehind     uint64  `json:"publish_behind"` // fixed rate: sends that waited for a free worker
	FirstPublishError string  `json:"first_publish_error,omitempty"`
	PublishSeconds    float64 `json:"publish_seconds"`
	// MeasureSeconds is the idle hold, or publishing plus draining.
	MeasureSeconds      float64 `json:"measure_seconds"`
	Deliveries          uint64  `json:"deliveries"`
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	Latency             Latency `json:"latency_ms"`

	Lost                      uint64 `json:"lost"`
	Duplicates                uint64 `json:"duplicates"`
	SubscribersWithLoss       int    `json:"subscribers_with_loss"`
	SubscribersWithDuplicates int    `json:"subscribers_with_duplicates"`
	Reconnects                int    `json:"reconnects"`
	Disconnects               int    `json:"disconnects"` // disconnect events from the server
	Resyncs                   int    `json:"resyncs"`     // sub events with recovered false mid-stream
	FirstSubscriberError      string `json:"first_subscriber_error,omitempty"`

	Server    *ServerStats `json:"server,omitempty"`
	Generator struct {
		CPUSeconds float64 `json:"cpu_seconds"` // the whole run
		RSSKB      uint64  `json:"rss_kb"`
		// PhaseCPUSeconds and PhaseCPUPercent cover the measured phase:
		// near 100 % of a core means the generator, not the server, may
		// bound the figures.
		PhaseCPUSeconds float64 `json:"phase_cpu_seconds"`
		PhaseCPUPercent float64 `json:"phase_cpu_percent"`
	} `json:"generator"`
	WallSeconds float64 `json:"wall_seconds"`
}

// Latency is publish→receive time: the receive time minus the send time
// stamped in the payload, on the same clock.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// ServerStats are read from /proc/PID of the server.
type ServerStats struct {
	PID            int     `json:"pid"`
	RSSBeforeKB    uint64  `json:"rss_before_kb"`
	RSSConnectedKB uint64  `json:"rss_connected_kb"`
	RSSEndKB       uint64  `json:"rss_end_kb"`
	RSSPerConnKB   float64 `json:"rss_per_conn_kb"` // (connected − before) / connections
	// ConnectCPUSeconds is the server's CPU during the connect phase.
	ConnectCPUSeconds float64 `json:"connect_cpu_seconds"`
	CPUSeconds        float64 `json:"cpu_seconds"` // during the measured phase
	CPUPercent        float64 `json:"cpu_percent"` // of one core
	CPUPerMillion     float64 `json:"cpu_s_per_1m_deliveries"`
}

// OK says whether nothing was lost, duplicated or refused.
func (r *Report) OK() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.PublishErrors == 0 && r.Connect.Failed == 0
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("workload     %s, %d subscribers, %d channels, %s", r.Transport, r.Subscribers, r.Channels, r.Mode)
	switch r.Mode {
	case "closed loop":
		p(" (%d in flight)", r.Inflight)
	case "fixed rate":
		p(" (%.0f msg/s)", r.Rate)
	}
	p(", payload %d B\n", r.PayloadBytes)
	p("connect      %d connected, %d failed in %.2fs: %.0f conn/s (generator CPU %.2fs", r.Connect.Connected, r.Connect.Failed, r.Connect.Seconds, r.Connect.PerSecond, r.Connect.GeneratorCPUSeconds)
	if r.Server != nil {
		p(", server CPU %.2fs", r.Server.ConnectCPUSeconds)
	}
	p(")\n")
	if !r.Idle {
		p("published    %d in %.2fs (%.0f/s), %d errors", r.Published, r.PublishSeconds, float64(r.Published)/max(r.PublishSeconds, 1e-9), r.PublishErrors)
		if r.PublishBehind > 0 {
			p(", %d sends late (publisher behind the rate)", r.PublishBehind)
		}
		p("\n")
		if r.FirstPublishError != "" {
			p("             first error: %s\n", r.FirstPublishError)
		}
		p("deliveries   %d in %.2fs: %.0f/s\n", r.Deliveries, r.MeasureSeconds, r.DeliveriesPerSecond)
		p("latency      p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms (%d samples)\n",
			r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Latency.Count)
		p("loss         %d lost (%d subscribers), %d duplicates (%d subscribers)\n",
			r.Lost, r.SubscribersWithLoss, r.Duplicates, r.SubscribersWithDuplicates)
	}
	p("streams      %d reconnects, %d disconnect events, %d resyncs\n", r.Reconnects, r.Disconnects, r.Resyncs)
	if r.FirstSubscriberError != "" {
		p("             first subscriber error: %s\n", r.FirstSubscriberError)
	}
	if s := r.Server; s != nil {
		p("server RSS   before %d KB, connected %d KB (%.1f KB per connection), end %d KB\n",
			s.RSSBeforeKB, s.RSSConnectedKB, s.RSSPerConnKB, s.RSSEndKB)
		p("server CPU   %.2fs (%.1f%% of a core)", s.CPUSeconds, s.CPUPercent)
		if !r.Idle {
			p(", %.2f s per 1M deliveries", s.CPUPerMillion)
		}
		p("\n")
	}
	p("generator    %.2f CPU s over %.1fs (%.0f%% of a core in the measured phase), RSS %d MB\n",
		r.Generator.CPUSeconds, r.WallSeconds, r.Generator.PhaseCPUPercent, r.Generator.RSSKB/1024)
	return err
}
