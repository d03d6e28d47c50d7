// Command render turns the reports of `make bench` into the results section of
// docs/benchmarks.md. It replaces only the text between the markers
// <!-- bench:begin --> and <!-- bench:end -->, so the hand-written sections
// (workloads, method, what bounds each figure) survive a new run, and
// nothing from an earlier run stays in the generated section.
//
// A run's report is ROUND-WORKLOAD-SYSTEM.peer.json (one JSON line from the
// peer generator of ../shared/bench) or ROUND-WORKLOAD-SYSTEM.rotor.json (a
// `rotor bench --json` report); SYSTEM is rotor, rotor-redis, centrifugo or
// nchan. ROUND-WORKLOAD-SYSTEM.load says how busy the machine was before it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	beginMark = "<!-- bench:begin -->"
	endMark   = "<!-- bench:end -->"
)

type opts struct {
	dir, out, commands, cpu, pinning, goVersion, commit string
	mode, peersNote, started, load, scale               string
	nproc, rounds                                       int
	memKB                                               int64
}

func main() {
	var o opts
	flag.StringVar(&o.dir, "dir", "", "directory with the run reports")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown file to update")
	flag.StringVar(&o.commands, "commands", "", "file with one command per line")
	flag.StringVar(&o.cpu, "cpu", "", "CPU model")
	flag.StringVar(&o.pinning, "pinning", "", "how server and generator were pinned")
	flag.StringVar(&o.goVersion, "go", "", "Go version")
	flag.StringVar(&o.commit, "commit", "", "git commit")
	flag.StringVar(&o.mode, "mode", "alone", "peers: Rotor and peers with the peer generator; alone: Rotor with rotor bench")
	flag.StringVar(&o.peersNote, "peers-note", "", "why peers were skipped, if any were")
	flag.StringVar(&o.started, "started", "", "when the run started")
	flag.StringVar(&o.load, "load", "", "load averages at the start and end of the run")
	flag.StringVar(&o.scale, "scale", "1", "BENCH_SCALE of the run")
	flag.IntVar(&o.rounds, "rounds", 1, "rounds run")
	flag.IntVar(&o.nproc, "nproc", 0, "cores")
	flag.Int64Var(&o.memKB, "mem-kb", 0, "memory in KiB")
	flag.Parse()
	if err := render(o); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func render(o opts) error {
	runs, tops, err := loadRuns(o.dir)
	if err != nil {
		return err
	}
	var cmds []string
	if o.commands != "" {
		b, err := os.ReadFile(o.commands)
		if err != nil {
			return err
		}
		cmds = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	section := results(o, runs, tops, cmds)
	old, err := os.ReadFile(o.out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(o.out, splice(old, section), 0o644)
}

// loadRuns reads every report in dir, and the profile tops (name → text).
func loadRuns(dir string) ([]run, map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var runs []run
	tops := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		base, kind, ok := cutKind(name)
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		if kind == "top" {
			if len(bytes.TrimSpace(b)) > 0 {
				tops[base] = string(b)
			}
			continue
		}
		round, wl, sys, ok := parseName(base)
		if !ok {
			continue
		}
		load := ""
		if l, err := os.ReadFile(filepath.Join(dir, base+".load")); err == nil {
			load = strings.TrimSpace(string(l))
		}
		var got []run
		if kind == "peer" {
			got = parsePeer(b, wl)
		} else {
			got = parseRotorBench(b, wl)
		}
		if len(got) == 0 { // a failed run leaves an empty or partial file
			got = []run{{Workload: wl, Failed: true}}
		}
		note := ""
		if f, err := os.ReadFile(filepath.Join(dir, base+".fail")); err == nil {
			note = strings.TrimSpace(string(f))
		}
		for _, r := range got {
			r.Round, r.System, r.Load, r.Note = round, sys, load, note
			if note != "" {
				r.Failed = true
			}
			runs = append(runs, r)
		}
	}
	sortRuns(runs)
	return runs, tops, nil
}

// cutKind splits "1-W2-rotor.peer.json" into "1-W2-rotor" and "peer".
func cutKind(name string) (base, kind string, ok bool) {
	for _, k := range []string{"peer", "rotor"} {
		if b, found := strings.CutSuffix(name, "."+k+".json"); found {
			return b, k, true
		}
	}
	if b, found := strings.CutSuffix(name, ".top"); found {
		return b, "top", true
	}
	return "", "", false
}

// parseName splits "2-W3-rotor-redis" into 2, "W3", "rotor-redis".
func parseName(base string) (round int, wl, sys string, ok bool) {
	parts := strings.SplitN(base, "-", 3)
	if len(parts) != 3 {
		return 0, "", "", false
	}
	if _, err := fmt.Sscanf(parts[0], "%d", &round); err != nil {
		return 0, "", "", false
	}
	return round, parts[1], parts[2], true
}

// splice puts section between the markers of old, or builds a new file.
func splice(old []byte, section string) []byte {
	i := bytes.Index(old, []byte(beginMark))
	j := bytes.Index(old, []byte(endMark))
	if i < 0 || j < i {
		return []byte(skeletonHead + beginMark + "\n" + section + endMark + "\n")
	}
	var b bytes.Buffer
	b.Write(old[:i])
	b.WriteString(beginMark + "\n" + section)
	b.Write(old[j:])
	return b.Bytes()
}

const skeletonHead = `# Benchmarks

` + "`make bench`" + ` measures Rotor on the workloads W1–W4 and, when the peer harness is beside
the checkout, Centrifugo and Nchan in the same run, and rewrites the section between the bench
markers below. Everything else in this file is kept.

`
