// Command render turns the JSON reports of `make bench` into the results
// section of docs/benchmarks.md. It replaces only the text between the
// markers <!-- bench:begin --> and <!-- bench:end -->, so hand-written
// sections (analysis, micro-benchmarks) survive a new run.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rotor-rt/rotor/cmd/rotor/loadgen"
)

const (
	beginMark = "<!-- bench:begin -->"
	endMark   = "<!-- bench:end -->"
)

type opts struct {
	dir, out, commands, cpu, pinning, goVersion, commit string
	nproc                                               int
	memKB                                               int64
}

func main() {
	var o opts
	flag.StringVar(&o.dir, "dir", "", "directory with NAME-ENGINE.json reports")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown file to update")
	flag.StringVar(&o.commands, "commands", "", "file with one command per line")
	flag.StringVar(&o.cpu, "cpu", "", "CPU model")
	flag.StringVar(&o.pinning, "pinning", "", "how server and generator were pinned")
	flag.StringVar(&o.goVersion, "go", "", "Go version")
	flag.StringVar(&o.commit, "commit", "", "git commit")
	flag.IntVar(&o.nproc, "nproc", 0, "cores")
	flag.Int64Var(&o.memKB, "mem-kb", 0, "memory in KiB")
	flag.Parse()
	if err := render(o); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func render(o opts) error {
	reports := map[string]*loadgen.Report{}
	loads := map[string]string{}
	for _, name := range []string{"W1", "W2", "W2r", "W3", "W4"} {
		for _, engine := range []string{"memory", "redis"} {
			b, err := os.ReadFile(filepath.Join(o.dir, name+"-"+engine+".json"))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			var r loadgen.Report
			if err := json.Unmarshal(b, &r); err != nil {
				// A failed run leaves an empty or partial file.
				continue
			}
			if l, err := os.ReadFile(filepath.Join(o.dir, name+"-"+engine+".load")); err == nil {
				loads[name+"-"+engine] = strings.TrimSpace(string(l))
			}
			reports[name+"-"+engine] = &r
		}
	}
	var cmds []string
	if o.commands != "" {
		b, err := os.ReadFile(o.commands)
		if err != nil {
			return err
		}
		cmds = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	section := results(o, reports, loads, cmds)
	old, err := os.ReadFile(o.out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(o.out, splice(old, section), 0o644)
}

// splice puts section between the markers of old, or builds a new file.
func splice(old []byte, section string) []byte {
	i := bytes.Index(old, []byte(beginMark))
	j := bytes.Index(old, []byte(endMark))
	if i < 0 || j < i {
		return []byte(skeletonHead + beginMark + "\n" + section + endMark + "\n" + skeletonTail)
	}
	var b bytes.Buffer
	b.Write(old[:i])
	b.WriteString(beginMark + "\n" + section)
	b.Write(old[j:])
	return b.Bytes()
}

const skeletonHead = `# Benchmarks

Rotor aims to lead its field (Centrifugo, Mercure, Nchan) on one core, on the workloads W1–W4
defined below. ` + "`make bench`" + ` measures it:
it builds rotor, starts a fresh ` + "`rotor serve`" + ` per workload (memory engine,
structure from the config file, a namespace with history 1000 / 5m, log level
warn) pinned to core 0 with GOMAXPROCS=1, runs ` + "`rotor bench`" + ` pinned to core 1,
and rewrites the section between the bench markers below. Everything else in
this file is kept.

Method, as for the field's figures: 100-byte JSON payloads carrying a
sequence number and a send timestamp; all traffic on loopback; latency is
receive time minus the payload's send time (same clock); every subscriber
checks its channel's offsets, so a skipped offset is a loss and a repeated
or reordered one a duplicate; RSS and CPU come from /proc/PID of the server
(RSS per connection = (RSS after connecting − RSS before) / connections;
CPU over the publishing phase plus the drain).

The workloads, each against a fresh server (` + "`" + `make bench` + "`" + ` runs them all; the ` + "`" + `rotor bench` + "`" + `
flags that make each are under Commands below):

| workload | what runs | what it measures | target |
|---|---|---|---|
| W1 | 10,000 SSE subscribers, one channel each, connected and then idle | server RSS per connection; connections opened per second | ≤ 10 KB; ≥ 15,000/s |
| W2 | 1,000 SSE subscribers on one channel; publishers in a closed loop, 8 publications in flight | deliveries per second; server CPU seconds per million deliveries | ≥ 620,000/s; ≤ 1.6 s |
| W2r | W2's subscribers with publications at a fixed 100/s | publish→receive latency | p99 ≤ 15 ms |
| W3 | 10,000 SSE subscribers, each on its own channel; 2,000 publications/s to random channels | server CPU; latency | ≤ 10 % of a core; p99 ≤ 3 ms |
| W4 | 1,000 long-poll subscribers on one channel; 50 publications/s | server CPU seconds per million deliveries; loss | ≤ 7 s; none |

The targets are the project's own, each set beyond the best of Centrifugo, Mercure and Nchan on
the same machine, one core for the server. With the Redis engine the target is to stay within
15 % of the memory engine.

`

const skeletonTail = `
## Micro-benchmarks

_To be filled in: ` + "`go test -bench`" + ` figures for the broadcast path._
`

type field struct{ centrifugo, mercure, nchan, target string }

func results(o opts, reps map[string]*loadgen.Report, loads map[string]string, cmds []string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## Results (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w("Machine: %d cores (%s), %.1f GiB memory; %s; %s; commit %s.\n\n",
		o.nproc, o.cpu, float64(o.memKB)/(1<<20), o.pinning, o.goVersion, o.commit)
	w("| workload | Rotor (memory) | Rotor (Redis) | Centrifugo v6.9 | Mercure 0.24 | Nchan 1.3 | target | met |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	get := func(k string) *loadgen.Report { return reps[k] }
	row := func(name string, f field, mem, red string, met string) {
		w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, mem, red, f.centrifugo, f.mercure, f.nchan, f.target, met)
	}
	na := "—"
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}

	if r := get("W1-memory"); r != nil && r.Server != nil {
		row("W1: 10,000 idle SSE subscribers, one channel each — server RSS per connection",
			field{"71.6 KB", "47.2 KB", "11.3 KB", "≤ 10 KB"}, fmt.Sprintf("%.1f KB", r.Server.RSSPerConnKB), na, yes(r.Server.RSSPerConnKB <= 10))
		row("W1: connect rate", field{"4,849/s", "7,075/s", "12,428/s", "≥ 15,000/s"},
			fmt.Sprintf("%s/s", thousands(r.Connect.PerSecond)), na, yes(r.Connect.PerSecond >= 15000))
	} else {
		row("W1", field{"", "", "", ""}, "run failed", na, na)
	}
	m, rd := get("W2-memory"), get("W2-redis")
	if m != nil && m.Server != nil {
		redDel, redCPU, metDel, metCPU := na, na, m.DeliveriesPerSecond >= 620000, m.Server.CPUPerMillion <= 1.6
		if rd != nil && rd.Server != nil {
			redDel = fmt.Sprintf("%s (%+.0f %%)", thousands(rd.DeliveriesPerSecond), pct(rd.DeliveriesPerSecond, m.DeliveriesPerSecond))
			redCPU = fmt.Sprintf("%.2f (%+.0f %%)", rd.Server.CPUPerMillion, pct(rd.Server.CPUPerMillion, m.Server.CPUPerMillion))
		}
		row("W2: 1,000 SSE subscribers on one channel, closed loop, 8 in flight — deliveries/s",
			field{"310,575", "111,033", "≥ 183,136", "≥ 620,000"}, thousands(m.DeliveriesPerSecond), redDel, yes(metDel))
		row("W2: server CPU seconds per 1 M deliveries", field{"3.22", "8.90", "5.42", "≤ 1.6"},
			fmt.Sprintf("%.2f", m.Server.CPUPerMillion), redCPU, yes(metCPU))
	} else {
		row("W2", field{"", "", "", ""}, "run failed", na, na)
	}
	m, rd = get("W2r-memory"), get("W2r-redis")
	if m != nil {
		red := na
		if rd != nil {
			red = fmt.Sprintf("%.2f / %.2f ms", rd.Latency.P50, rd.Latency.P99)
		}
		row("W2 at a fixed 100 msg/s — publish→receive latency p50 / p99", field{"20.8 / 126 ms", "178 / 720 ms", "5.4 / 32.8 ms", "p99 ≤ 15 ms"},
			fmt.Sprintf("%.2f / %.2f ms", m.Latency.P50, m.Latency.P99), red, yes(m.Latency.P99 <= 15))
	}
	m, rd = get("W3-memory"), get("W3-redis")
	if m != nil && m.Server != nil {
		red := na
		if rd != nil && rd.Server != nil {
			red = fmt.Sprintf("%.0f %%, %.2f / %.2f ms", rd.Server.CPUPercent, rd.Latency.P50, rd.Latency.P99)
		}
		row("W3: 10,000 subscribers on their own channels, 2,000 msg/s to random channels — server CPU, latency p50 / p99",
			field{"26 %, 0.23 / 3.1 ms", "cannot keep up", "12 %, 0.15 / 3.1 ms", "≤ 10 %, p99 ≤ 3 ms"},
			fmt.Sprintf("%.0f %%, %.2f / %.2f ms", m.Server.CPUPercent, m.Latency.P50, m.Latency.P99), red,
			yes(m.Server.CPUPercent <= 10 && m.Latency.P99 <= 3))
	}
	if m = get("W4-memory"); m != nil && m.Server != nil {
		row("W4: 1,000 long-poll subscribers on one channel, 50 msg/s — CPU s per 1 M deliveries, loss",
			field{"n/a", "n/a", "14.7, none", "≤ 7, none"},
			fmt.Sprintf("%.2f, %s", m.Server.CPUPerMillion, lossWord(m)), na, yes(m.Server.CPUPerMillion <= 7 && m.Lost+m.Duplicates == 0))
	}
	w("\nThe field's figures were measured the same way on this machine kind.\n")
	w("Redis: Redis on core 0 beside Rotor; the target is within 15 %% of the memory engine.\n\n")

	w("### Every run\n\n")
	w("| run | engine | subscribers | connect/s | published | deliveries | deliveries/s | p50 / p99 / p99.9 / max ms | lost | duplicates | reconnects | server CPU s | CPU %% | RSS per conn | connect CPU s server / generator | generator CPU %% | machine busy before |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range []string{"W1", "W2", "W2r", "W3", "W4"} {
		for _, engine := range []string{"memory", "redis"} {
			r := reps[name+"-"+engine]
			if r == nil {
				continue
			}
			cpu, pc, rss, ccpu := na, na, na, na
			if s := r.Server; s != nil {
				cpu, pc, rss = fmt.Sprintf("%.2f", s.CPUSeconds), fmt.Sprintf("%.0f", s.CPUPercent), fmt.Sprintf("%.1f KB", s.RSSPerConnKB)
				ccpu = fmt.Sprintf("%.2f / %.2f", s.ConnectCPUSeconds, r.Connect.GeneratorCPUSeconds)
			}
			w("| %s | %s | %d %s | %s | %d | %d | %s | %.2f / %.2f / %.2f / %.2f | %d | %d | %d | %s | %s | %s | %s | %.0f | %s |\n",
				name, engine, r.Subscribers, r.Transport, thousands(r.Connect.PerSecond), r.Published, r.Deliveries,
				thousands(r.DeliveriesPerSecond), r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max,
				r.Lost, r.Duplicates, r.Reconnects, cpu, pc, rss, ccpu, r.Generator.PhaseCPUPercent, loads[name+"-"+engine])
		}
	}
	var tops []string
	for _, name := range []string{"W2", "W2r", "W3", "W4"} {
		for _, engine := range []string{"memory", "redis"} {
			b, err := os.ReadFile(filepath.Join(o.dir, name+"-"+engine+".top"))
			if err == nil && len(bytes.TrimSpace(b)) > 0 {
				tops = append(tops, fmt.Sprintf("#### %s (%s)\n\n```\n%s```\n", name, engine, b))
			}
		}
	}
	if len(tops) > 0 {
		w("\n### Server CPU profiles\n\n")
		w("The top of a CPU profile of the server during each publishing run (`go tool pprof -top`;\n")
		w("make bench adds a pprof listener through `go build -overlay`).\n\n")
		w("%s", strings.Join(tops, "\n"))
	}
	w("\n### Commands\n\n```\n")
	for _, c := range cmds {
		w("%s\n", c)
	}
	w("```\n\n")
	return b.String()
}

func lossWord(r *loadgen.Report) string {
	if r.Lost == 0 && r.Duplicates == 0 {
		return "none"
	}
	return fmt.Sprintf("%d lost, %d duplicated", r.Lost, r.Duplicates)
}

func pct(v, base float64) float64 {
	if base == 0 {
		return 0
	}
	return 100 * (v - base) / base
}

// thousands formats a rate with comma separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
