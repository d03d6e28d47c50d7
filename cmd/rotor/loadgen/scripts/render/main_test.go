package main

import (
	"strings"
	"testing"
)

func TestSplice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old string
		want      []string
	}{
		{"new file", "", []string{"# Benchmarks", beginMark + "\nNEW\n" + endMark}},
		{"keeps hand-written text", "intro\n" + beginMark + "\nOLD\n" + endMark + "\nanalysis\n## Micro-benchmarks\nfigures\n",
			[]string{"intro\n" + beginMark + "\nNEW\n" + endMark + "\nanalysis\n## Micro-benchmarks\nfigures\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(splice([]byte(tt.old), "NEW\n"))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Fatalf("result lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "OLD") {
				t.Fatalf("old results kept:\n%s", got)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Fatalf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePeerW2(t *testing.T) {
	t.Parallel()
	line := `{"target":"rotor","workload":"W2","subscribers_ready":1000,"connect_rate_per_s":"9000",` +
		`"server_rss_delta_per_conn_bytes":10240,"server_cpu_connect_s":"0.10",` +
		`"A_deliveries_lost":0,"A_dup_total":0,"A_latency_p99_us":8000,"A_publishes_ok":500,` +
		`"B_deliveries_lost":3,"B_dup_total":1,"B_deliveries_per_s_in_window":"800000","B_server_cpu_s_per_1M_deliveries":"1.25"}`
	runs := parsePeer([]byte("other output\n"+line+"\n"), "W2")
	if len(runs) != 2 {
		t.Fatalf("got %d runs, want the two phases", len(runs))
	}
	b, a := runs[0], runs[1]
	if b.Workload != "W2" || b.DeliveriesPerSec != 800000 || b.CPUPer1M != 1.25 || b.Lost != 3 || b.Duplicates != 1 {
		t.Fatalf("closed-loop phase: %+v", b)
	}
	if a.Workload != "W2r" || a.P99 != 8 || a.Published != 500 || a.Lost != 0 {
		t.Fatalf("fixed-rate phase: %+v", a)
	}
	if b.RSSPerConnKiB != 10 || b.ConnectCPUPer10k != 1 {
		t.Fatalf("connect figures: %+v", b)
	}
	if got := parsePeer([]byte("not json"), "W2"); got != nil {
		t.Fatalf("garbage parsed as %+v", got)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	runs := []run{
		{Round: 1, Workload: "W3", System: "rotor", CPUPercent: 8},
		{Round: 2, Workload: "W3", System: "rotor", CPUPercent: 30}, // noisy round
		{Round: 3, Workload: "W3", System: "rotor", CPUPercent: 9},
		{Round: 1, Workload: "W3", System: "nchan", CPUPercent: 12},
		{Round: 2, Workload: "W3", System: "nchan", CPUPercent: 1, Lost: 5}, // lossy: left out
		{Round: 3, Workload: "W3", System: "nchan", CPUPercent: 12},
		{Round: 1, Workload: "W2", System: "rotor", DeliveriesPerSec: 100},
		{Round: 1, Workload: "W2", System: "rotor-redis", DeliveriesPerSec: 80},
	}
	m := medians{runs}
	for _, tt := range []struct {
		label     string
		ratio     float64
		met, want bool
	}{
		{"W3: server CPU", 8.5 / 12, true, true}, // rounds 1 and 3 only
		{"W2: Redis", 0.8, false, true},
		{"W4: p99", 0, false, false},
	} {
		var tg target
		for _, x := range targets {
			if strings.HasPrefix(x.label, tt.label) {
				tg = x
			}
		}
		ratio, met, ok, _ := tg.check(m)
		if ok != tt.want || met != tt.met || (ok && (ratio < tt.ratio-1e-9 || ratio > tt.ratio+1e-9)) {
			t.Errorf("%s: ratio %v met %v ok %v; want %v %v %v", tt.label, ratio, met, ok, tt.ratio, tt.met, tt.want)
		}
	}
}
