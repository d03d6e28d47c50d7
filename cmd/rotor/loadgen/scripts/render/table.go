package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// metric is one row of the ratio table: a figure of one workload, and
// whether less of it is better.
type metric struct {
	workload string
	label    string
	get      func(run) float64
	lower    bool
	format   string // fmt verb for the value, e.g. "%.1f KiB"
}

var metrics = []metric{
	{"W1", "W1 RSS per idle SSE connection", func(r run) float64 { return r.RSSPerConnKiB }, true, "%.1f KiB"},
	{"W1", "W1 connect rate", func(r run) float64 { return r.ConnectRate }, false, "%s/s"},
	{"W1", "W1 server CPU to accept 10,000 connections", func(r run) float64 { return r.ConnectCPUPer10k }, true, "%.2f s"},
	{"W2", "W2 deliveries/s (closed loop, 8 in flight)", func(r run) float64 { return r.DeliveriesPerSec }, false, "%s/s"},
	{"W2", "W2 server CPU per 1 M deliveries (closed loop)", func(r run) float64 { return r.CPUPer1M }, true, "%.2f s"},
	{"W2r", "W2 latency p50 at 100 msg/s", func(r run) float64 { return r.P50 }, true, "%.2f ms"},
	{"W2r", "W2 latency p99 at 100 msg/s", func(r run) float64 { return r.P99 }, true, "%.2f ms"},
	{"W3", "W3 server CPU (2,000 msg/s)", func(r run) float64 { return r.CPUPercent }, true, "%.0f %% of a core"},
	{"W3", "W3 latency p50", func(r run) float64 { return r.P50 }, true, "%.2f ms"},
	{"W3", "W3 latency p99", func(r run) float64 { return r.P99 }, true, "%.2f ms"},
	{"W4", "W4 server CPU per 1 M deliveries", func(r run) float64 { return r.CPUPer1M }, true, "%.2f s"},
	{"W4", "W4 latency p50", func(r run) float64 { return r.P50 }, true, "%.2f ms"},
	{"W4", "W4 latency p99", func(r run) float64 { return r.P99 }, true, "%.2f ms"},
	{"W4", "W4 RSS per long-poll subscriber", func(r run) float64 { return r.RSSPerConnKiB }, true, "%.1f KiB"},
}

var peerSystems = []string{"centrifugo", "nchan"}

// medians holds every run; a figure is the median over a system's valid
// runs (not failed, nothing lost or duplicated).
type medians struct{ runs []run }

func valid(r run) bool { return !r.Failed && r.Lost == 0 && r.Duplicates == 0 }

// values returns sys's valid figures of mt by round.
func (m medians) values(sys string, mt metric) map[int]float64 {
	v := map[int]float64{}
	for _, r := range m.runs {
		if r.System == sys && r.Workload == mt.workload && valid(r) {
			v[r.Round] = mt.get(r)
		}
	}
	return v
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

func (m medians) get(sys string, mt metric) (float64, bool) {
	var v []float64
	for _, x := range m.values(sys, mt) {
		v = append(v, x)
	}
	return median(v)
}

// paired returns the medians of a and b over the rounds where both have a
// valid run, so a ratio never sets one round's machine against another's;
// n is how many rounds that was, of all the rounds a has.
func (m medians) paired(a, b string, mt metric) (av, bv float64, n, all int, ok bool) {
	va, vb := m.values(a, mt), m.values(b, mt)
	var xa, xb []float64
	for round, x := range va {
		if y, found := vb[round]; found {
			xa, xb = append(xa, x), append(xb, y)
		}
	}
	for _, r := range m.runs {
		if r.System == a && r.Workload == mt.workload {
			all++
		}
	}
	av, ok = median(xa)
	bv, _ = median(xb)
	return av, bv, len(xa), all, ok
}

func (mt metric) show(v float64) string {
	if strings.HasPrefix(mt.format, "%s") {
		return fmt.Sprintf(mt.format, thousands(v))
	}
	return fmt.Sprintf(mt.format, v)
}

// bestPeer is the peer with the best median of mt, if any peer has one.
func (m medians) bestPeer(mt metric) (sys string, v float64, ok bool) {
	for _, p := range peerSystems {
		pv, pok := m.get(p, mt)
		if !pok || (ok && (mt.lower && pv >= v || !mt.lower && pv <= v)) {
			continue
		}
		sys, v, ok = p, pv, true
	}
	return sys, v, ok
}

// target is one goal, as a ratio of Rotor's median to another system's.
type target struct {
	label  string
	metric metric
	of     string  // the system compared with (rotor: Rotor with the memory engine)
	factor float64 // Rotor ≤ factor × other (lower is better) or ≥ (higher is better)
}

func metricByLabel(prefix string) metric {
	for _, m := range metrics {
		if strings.HasPrefix(m.label, prefix) {
			return m
		}
	}
	panic("no metric " + prefix)
}

var targets = []target{
	{"W1: server CPU per accepted stream ≤ Nchan's", metricByLabel("W1 server CPU"), "nchan", 1},
	{"W1: RSS per idle stream ≤ 0.8 × Nchan's", metricByLabel("W1 RSS"), "nchan", 0.8},
	{"W2: deliveries/s ≥ 2 × Centrifugo's", metricByLabel("W2 deliveries"), "centrifugo", 2},
	{"W2: Redis engine within 15 % of memory (deliveries/s)", metricByLabel("W2 deliveries"), "rotor", 0.85},
	{"W3: server CPU ≤ 0.8 × Nchan's", metricByLabel("W3 server CPU"), "nchan", 0.8},
	{"W3: p99 ≤ Nchan's", metricByLabel("W3 latency p99"), "nchan", 1},
	{"W4: CPU per 1 M deliveries ≤ 0.5 × Nchan's", metricByLabel("W4 server CPU"), "nchan", 0.5},
	{"W4: p99 ≤ Nchan's", metricByLabel("W4 latency p99"), "nchan", 1},
	{"W4: RSS per poller ≤ Nchan's", metricByLabel("W4 RSS"), "nchan", 1},
}

// check returns the ratio measured and whether the target is met; ok is
// false when either side was not measured.
func (t target) check(m medians) (ratio float64, met, ok bool, note string) {
	sys := "rotor"
	if t.of == "rotor" { // Redis against memory
		sys = "rotor-redis"
	}
	a, b, n, all, ok := m.paired(sys, t.of, t.metric)
	if !ok || b == 0 {
		return 0, false, false, ""
	}
	if n < all {
		note = fmt.Sprintf(" (%d of %d rounds valid on both)", n, all)
	}
	ratio = a / b
	if t.metric.lower {
		return ratio, ratio <= t.factor, true, note
	}
	return ratio, ratio >= t.factor, true, note
}

func results(o opts, runs []run, tops map[string]string, cmds []string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := medians{runs}
	peersRun := o.mode == "peers"

	w("## Results of one run (%s)\n\n", o.started)
	w("_Generated by `make bench`; every figure in this section comes from this one run._\n\n")
	w("- Machine: %d cores, %s, %.1f GiB memory; %s.\n", o.nproc, o.cpu, float64(o.memKB)/(1<<20), o.pinning)
	w("- Load average (1, 5, 15 min): %s — other work shared the machine; the \"machine before\" column below is per run.\n", o.load)
	w("- Commit %s, %s; BENCH_SCALE=%s.\n", o.commit, o.goVersion, o.scale)
	if peersRun {
		w("- Rotor, Centrifugo v6.9.1 and Nchan (Debian's nginx module) measured with the same generator (`../shared/bench`), back to back: %d round(s), each running W1 to W4 on every server in turn (order reversed every other round); the tables show medians over the rounds.\n", o.rounds)
	} else {
		w("- Rotor alone, with `rotor bench`; %d round(s).\n", o.rounds)
	}
	if o.peersNote != "" {
		w("- %s.\n", o.peersNote)
	}
	w("- A run that failed, lost or duplicated messages is left out of the medians (it stays under Every run); a ratio uses only the rounds where both servers have a valid run.\n")
	w("\n")

	w("### Ratios\n\n")
	w("| workload | Rotor | Centrifugo | Nchan | Rotor vs best peer |\n|---|---|---|---|---|\n")
	for _, mt := range metrics {
		cells := []string{}
		for _, sys := range append([]string{"rotor"}, peerSystems...) {
			v, ok := m.get(sys, mt)
			switch {
			case ok:
				cells = append(cells, mt.show(v))
			case sys == "centrifugo" && mt.workload == "W4":
				cells = append(cells, "n/a (no long poll)")
			default:
				cells = append(cells, "—")
			}
		}
		ratio := "—"
		if p, _, ok := m.bestPeer(mt); ok {
			if rv, pv, n, all, ok := m.paired("rotor", p, mt); ok && pv != 0 {
				ratio = fmt.Sprintf("%.2f× %s (%s", rv/pv, systemName(p), betterWord(mt))
				if n < all {
					ratio += fmt.Sprintf("; %d of %d rounds valid on both", n, all)
				}
				ratio += ")"
			}
		}
		w("| %s | %s | %s |\n", mt.label, strings.Join(cells, " | "), ratio)
	}
	redisRow := func(label string, mt metric) {
		v, ok := m.get("rotor-redis", mt)
		if !ok {
			return
		}
		ratio := "—"
		if rv, mv, _, _, ok := m.paired("rotor-redis", "rotor", mt); ok && mv != 0 {
			ratio = fmt.Sprintf("%.2f× Rotor with memory (%s)", rv/mv, betterWord(mt))
		}
		w("| %s | %s | — | — | %s |\n", label, mt.show(v), ratio)
	}
	redisRow("W2 Redis engine: deliveries/s (closed loop)", metricByLabel("W2 deliveries"))
	redisRow("W2 Redis engine: latency p99 at 100 msg/s", metricByLabel("W2 latency p99"))
	w("\n")

	w("### Targets\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range targets {
		ratio, met, ok, note := t.check(m)
		of := systemName(t.of) + "'s"
		if t.of == "rotor" {
			of = "memory's"
		}
		switch {
		case !ok:
			w("| %s | not measured | — |\n", t.label)
		default:
			// Three decimals: 0.8003 must not read as a met 0.80.
			w("| %s | Rotor = %.3f × %s%s | %s |\n", t.label, ratio, of, note, metWord(met))
		}
	}
	var lost, dup int64
	var failed []string
	for _, r := range runs {
		if r.System == "rotor" || r.System == "rotor-redis" {
			lost += r.Lost
			dup += r.Duplicates
			if r.Failed {
				failed = append(failed, fmt.Sprintf("%s round %d", r.Workload, r.Round))
			}
		}
	}
	zero := fmt.Sprintf("%d lost, %d duplicated over Rotor's runs", lost, dup)
	if len(failed) > 0 {
		zero += "; failed: " + strings.Join(failed, ", ")
	}
	w("| Zero loss and duplicates everywhere | %s | %s |\n", zero, metWord(lost == 0 && dup == 0 && len(failed) == 0))
	var peerNotes []string
	for _, r := range runs {
		if r.System != "rotor" && r.System != "rotor-redis" && (r.Lost > 0 || r.Duplicates > 0 || r.Failed) {
			what := fmt.Sprintf("%d lost, %d duplicated", r.Lost, r.Duplicates)
			if r.Failed {
				what = "failed"
			}
			peerNotes = append(peerNotes, fmt.Sprintf("%s %s round %d: %s", systemName(r.System), r.Workload, r.Round, what))
		}
	}
	if peersRun {
		if len(peerNotes) == 0 {
			peerNotes = []string{"none lost, duplicated or failed"}
		}
		w("| (peers, for reference) | %s | |\n", strings.Join(peerNotes, "; "))
	}
	w("\n")

	w("### Every run\n\n")
	if peersRun {
		w("The generator runs W2 as two phases over the same 1,000 subscribers: 100 msg/s (W2r below), then the closed loop (W2).\n")
	}
	w("Latency is publish→receive in ms; RSS per conn is the server's RSS growth per connection while connecting.\n\n")
	w("| workload | round | server | subscribers | connect/s | published | deliveries | deliveries/s | p50 / p99 / p99.9 / max ms | lost | duplicates | server CPU s | CPU %% | RSS per conn | generator CPU %% | machine before |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.Failed && r.Subscribers == 0 {
			w("| %s | %d | %s | failed: %s |  |  |  |  |  |  |  |  |  |  |  | %s |\n", r.Workload, r.Round, systemName(r.System), r.Note, r.Load)
			continue
		}
		if !r.Publishes {
			w("| %s | %d | %s | %d | %s | — | — | — | — | — | — | — | — | %.1f KiB | — | %s |\n",
				r.Workload, r.Round, systemName(r.System), r.Subscribers, thousands(r.ConnectRate), r.RSSPerConnKiB, r.Load)
			continue
		}
		w("| %s | %d | %s | %d | %s | %d | %d | %s | %.2f / %.2f / %.2f / %.2f | %d | %d | %.2f | %.0f | %.1f KiB | %.0f | %s |\n",
			r.Workload, r.Round, systemName(r.System), r.Subscribers, thousands(r.ConnectRate), r.Published, r.Deliveries,
			thousands(r.DeliveriesPerSec), r.P50, r.P99, r.P999, r.Max, r.Lost, r.Duplicates,
			r.CPUSeconds, r.CPUPercent, r.RSSPerConnKiB, r.GeneratorPercent, r.Load)
	}

	if len(tops) > 0 {
		w("\n### Server CPU profiles\n\n")
		w("The top of a CPU profile of Rotor during each publishing run of round 1 (`go tool pprof -top`;\n")
		w("make bench adds a pprof listener through `go build -overlay`).\n\n")
		for _, name := range sortedKeys(tops) {
			if !strings.HasPrefix(name, "1-") {
				continue
			}
			w("#### %s\n\n```\n%s```\n\n", strings.TrimPrefix(name, "1-"), tops[name])
		}
	}
	w("\n### Commands (round 1)\n\n```\n")
	for _, c := range cmds {
		w("%s\n", c)
	}
	w("```\n\n")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func betterWord(mt metric) string {
	if mt.lower {
		return "lower is better"
	}
	return "higher is better"
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// thousands formats a rate with comma separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Round(v))
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
