package loadgen

import (
	"os"
	"testing"
)

func TestParseProc(t *testing.T) {
	t.Parallel()
	rss, err := parseVmRSS([]byte("Name:\trotor\nVmPeak:\t 1 kB\nVmRSS:\t   24072 kB\n"))
	if err != nil || rss != 24072 {
		t.Fatalf("VmRSS = %d, %v", rss, err)
	}
	// A command name with spaces and parentheses must not shift fields.
	stat := "123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0"
	cpu, err := parseCPU([]byte(stat))
	if err != nil || cpu != 3 {
		t.Fatalf("cpu = %v, %v; want 3", cpu, err)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := readProc(0); err != nil {
			t.Fatalf("readProc(self): %v", err)
		}
	}
}
