package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/rotor-rt/rotor/cmd/rotor/loadgen"
)

// run is one measured phase of one server, in the units the page uses,
// whichever generator produced it.
type run struct {
	Round    int
	Workload string // W1, W2 (closed loop), W2r (W2 at a fixed rate), W3, W4
	System   string // rotor, rotor-redis, centrifugo, nchan
	Load     string // how busy the machine was just before
	Failed   bool
	Note     string // why it failed, when it did

	Subscribers      int
	ConnectRate      float64 // connections per second
	RSSPerConnKiB    float64 // (RSS connected − RSS before) / connections
	ConnectCPUPer10k float64 // server CPU seconds to accept 10,000 connections
	DeliveriesPerSec float64 // in the publishing window
	CPUPer1M         float64 // server CPU seconds per 1 M deliveries
	CPUSeconds       float64 // server CPU in the publishing window
	CPUPercent       float64 // of one core, in the publishing window
	P50, P99, P999   float64 // publish→receive latency, ms
	Max              float64
	Published        int64
	Deliveries       int64 // distinct deliveries
	Lost, Duplicates int64
	GeneratorPercent float64 // generator CPU, % of its core in the publishing window
	Publishes        bool    // the phase published (not W1)
}

// parsePeer reads the last JSON line of the peer generator. Its W2 holds two
// phases: A (fixed rate, reported as W2r) and B (closed loop, W2).
func parsePeer(b []byte, wl string) []run {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var m map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &m); err != nil {
		return nil
	}
	base := run{Workload: wl}
	ready := num(m, "subscribers_ready")
	base.Subscribers = int(ready)
	base.ConnectRate = num(m, "connect_rate_per_s")
	base.RSSPerConnKiB = num(m, "server_rss_delta_per_conn_bytes") / 1024
	if ready > 0 {
		base.ConnectCPUPer10k = num(m, "server_cpu_connect_s") / ready * 10000
	}
	if ready == 0 {
		base.Failed = true
		return []run{base}
	}
	phase := func(wl, prefix string) run {
		r := base
		r.Workload = wl
		r.Publishes = true
		r.DeliveriesPerSec = num(m, prefix+"deliveries_per_s_in_window")
		r.CPUPer1M = num(m, prefix+"server_cpu_s_per_1M_deliveries")
		r.CPUSeconds = num(m, prefix+"server_cpu_s")
		r.CPUPercent = num(m, prefix+"server_cpu_util_pct")
		r.P50 = num(m, prefix+"latency_p50_us") / 1000
		r.P99 = num(m, prefix+"latency_p99_us") / 1000
		r.P999 = num(m, prefix+"latency_p999_us") / 1000
		r.Max = num(m, prefix+"latency_max_us") / 1000
		r.Published = int64(num(m, prefix+"publishes_ok"))
		r.Deliveries = int64(num(m, prefix+"deliveries_received_unique"))
		r.Lost = int64(num(m, prefix+"deliveries_lost"))
		r.Duplicates = int64(num(m, prefix+"dup_total"))
		if s := num(m, prefix+"publish_phase_seconds"); s > 0 {
			r.GeneratorPercent = 100 * num(m, prefix+"generator_cpu_s") / s
		}
		if _, ok := m[prefix+"deliveries_lost"]; !ok {
			r.Failed = true
		}
		return r
	}
	switch wl {
	case "W1":
		return []run{base}
	case "W2":
		return []run{phase("W2", "B_"), phase("W2r", "A_")}
	default:
		return []run{phase(wl, "")}
	}
}

// num reads a number the peer generator wrote as a number or as a string.
func num(m map[string]any, k string) float64 {
	switch v := m[k].(type) {
	case float64:
		return v
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return 0
}

// parseRotorBench reads a `rotor bench --json` report.
func parseRotorBench(b []byte, wl string) []run {
	var rep loadgen.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil
	}
	r := run{
		Workload:         wl,
		Subscribers:      rep.Connect.Connected,
		ConnectRate:      rep.Connect.PerSecond,
		DeliveriesPerSec: rep.DeliveriesPerSecond,
		P50:              rep.Latency.P50, P99: rep.Latency.P99, P999: rep.Latency.P999, Max: rep.Latency.Max,
		Published:        int64(rep.Published),
		Deliveries:       int64(rep.Deliveries),
		Lost:             int64(rep.Lost),
		Duplicates:       int64(rep.Duplicates),
		GeneratorPercent: rep.Generator.PhaseCPUPercent,
		Publishes:        !rep.Idle,
	}
	if s := rep.Server; s != nil {
		r.RSSPerConnKiB = s.RSSPerConnKB
		if rep.Connect.Connected > 0 {
			r.ConnectCPUPer10k = s.ConnectCPUSeconds / float64(rep.Connect.Connected) * 10000
		}
		r.CPUPer1M, r.CPUSeconds, r.CPUPercent = s.CPUPerMillion, s.CPUSeconds, s.CPUPercent
	}
	if rep.Connect.Connected == 0 {
		r.Failed = true
	}
	return []run{r}
}

var (
	workloadOrder = []string{"W1", "W2", "W2r", "W3", "W4"}
	systemOrder   = []string{"rotor", "rotor-redis", "centrifugo", "nchan"}
)

func sortRuns(runs []run) {
	slices.SortStableFunc(runs, func(a, b run) int {
		if c := slices.Index(workloadOrder, a.Workload) - slices.Index(workloadOrder, b.Workload); c != 0 {
			return c
		}
		if a.Round != b.Round {
			return a.Round - b.Round
		}
		return slices.Index(systemOrder, a.System) - slices.Index(systemOrder, b.System)
	})
}

// systemName is how the page names a system.
func systemName(s string) string {
	switch s {
	case "rotor":
		return "Rotor"
	case "rotor-redis":
		return "Rotor (Redis)"
	case "centrifugo":
		return "Centrifugo"
	case "nchan":
		return "Nchan"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
