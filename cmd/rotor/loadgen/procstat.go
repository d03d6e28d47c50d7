package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports (sysconf needs cgo).
const clockTicks = 100

// procSample is one reading of a process's memory and CPU.
type procSample struct {
	rssKB      uint64  // VmRSS
	cpuSeconds float64 // utime + stime
}

// readProc reads /proc/PID/status and /proc/PID/stat ("self" for pid 0).
func readProc(pid int) (procSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var s procSample
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	if s.rssKB, err = parseVmRSS(status); err != nil {
		return s, err
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	if s.cpuSeconds, err = parseCPU(stat); err != nil {
		return s, err
	}
	return s, nil
}

func parseVmRSS(status []byte) (uint64, error) {
	i := bytes.Index(status, []byte("VmRSS:"))
	if i < 0 {
		return 0, fmt.Errorf("no VmRSS in process status")
	}
	f := bytes.Fields(status[i+len("VmRSS:"):])
	if len(f) == 0 {
		return 0, fmt.Errorf("empty VmRSS in process status")
	}
	v, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("VmRSS: %w", err)
	}
	return v, nil
}

// parseCPU returns utime+stime in seconds from /proc/PID/stat. The command
// name (field 2) may hold spaces and parentheses, so fields are counted
// from the last ')': utime and stime are fields 14 and 15 (proc(5)).
func parseCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed process stat")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("short process stat")
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process stat: utime %q stime %q", f[11], f[12])
	}
	return float64(u+s) / clockTicks, nil
}
