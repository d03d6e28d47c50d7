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
		{"new file", "", []string{"# Benchmarks", beginMark + "\nNEW\n" + endMark, "## Micro-benchmarks"}},
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
