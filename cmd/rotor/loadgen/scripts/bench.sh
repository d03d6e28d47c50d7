#!/usr/bin/env bash
# bench.sh runs the workloads W1–W4 of docs/benchmarks.md against a fresh `rotor serve`
# for each, with the server pinned to core 0 (GOMAXPROCS=1) and the load
# generator on core 1 when the machine has two cores or more, and writes
# docs/benchmarks.md. Run it from the repository root: `make bench`.
#
# Environment: GO (go), OUT (docs/benchmarks.md), BENCH_REDIS (auto|0|1:
# also run W2 and W3 with the Redis engine, Redis on core 0 too),
# BENCH_SCALE (1: multiply durations, e.g. 0.5 for a quick look),
# BENCH_PPROF (1: build the server with a net/http/pprof listener — added
# through `go build -overlay`, the tree is not touched — and put the top of
# a CPU profile of each publishing run into the results; 0: no profiles).
set -euo pipefail

GO=${GO:-go}
OUT=${OUT:-docs/benchmarks.md}
BENCH_REDIS=${BENCH_REDIS:-auto}
SCALE=${BENCH_SCALE:-1}
PORT=${BENCH_PORT:-18790}
REDIS_PORT=${BENCH_REDIS_PORT:-18791}
PPROF=${BENCH_PPROF:-1}
PPROF_ADDR=127.0.0.1:${BENCH_PPROF_PORT:-18792}

work=$(mktemp -d)
server_pid=""
redis_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

dur() { awk -v s="$1" -v k="$SCALE" 'BEGIN { printf "%ds", (s*k < 1 ? 1 : s*k) }'; }

# 10,000 subscribers need 10,000 descriptors in each process, plus slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 12000 ]; then
	echo "bench: ulimit -n is $(ulimit -n); W1 and W3 need more than 10,000 descriptors" >&2
	exit 1
fi

cores=$(nproc)
if [ "$cores" -ge 2 ]; then
	pin_server="taskset -c 0"
	pin_gen="taskset -c 1"
	pinning="server on core 0 (taskset -c 0, GOMAXPROCS=1), generator on core 1 (taskset -c 1)"
else
	pin_server=""
	pin_gen=""
	pinning="NOT pinned: this machine has one core, so server and generator share it (figures are pessimistic)"
	echo "bench: $pinning" >&2
fi

echo "bench: building rotor" >&2
build_flags=()
if [ "$PPROF" = 1 ]; then
	cat >"$work/pprof.go" <<'GO'
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

// Added by make bench only: a profiling listener for the bench server.
func init() {
	if a := os.Getenv("BENCH_PPROF_ADDR"); a != "" {
		go func() { _ = http.ListenAndServe(a, nil) }()
	}
}
GO
	printf '{"Replace":{"%s/cmd/rotor/zz_bench_pprof.go":"%s/pprof.go"}}\n' "$PWD" "$work" >"$work/overlay.json"
	build_flags=(-overlay "$work/overlay.json")
fi
$GO build "${build_flags[@]}" -o "$work/rotor" ./cmd/rotor
rotor="$work/rotor"

secret="bench-secret-bench-secret-bench-secret-$(date +%s)"
write_config() { # engine redis_url
	cat > "$work/rotor.yaml" <<CFG
http:
  address: "127.0.0.1:$PORT"
engine:
  type: $1
  redis_url: "$2"
structure:
  store: file
  projects:
    - id: bench
      name: Bench
      secret: "$secret"
      api_key: "bench-api-key"
      default_namespace: default
      namespaces:
        - name: default
          history_size: 1000
          history_ttl: 5m
log:
  level: warn
CFG
}

start_server() { # engine
	local url=""
	if [ "$1" = redis ]; then url="redis://127.0.0.1:$REDIS_PORT"; fi
	write_config "$1" "$url"
	BENCH_PPROF_ADDR=$([ "$PPROF" = 1 ] && echo "$PPROF_ADDR") GOMAXPROCS=1 $pin_server "$rotor" serve --config "$work/rotor.yaml" >"$work/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "bench: server did not become ready:" >&2
	cat "$work/server.log" >&2
	exit 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# busy_pct prints the share of all cores busy over one second (/proc/stat).
busy_pct() {
	local a b
	a=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
	echo "$a $b" | awk '{ t = $4 - $2; printf "%.0f %%\n", (t > 0 ? 100 * ($3 - $1) / t : 0) }'
}

cmds=()
run() { # name engine profile-seconds args...
	local name=$1 engine=$2 prof=$3 prof_pid=""
	shift 3
	# Other work on the machine skews every figure: record how busy its
	# cores were over the second before the run.
	busy_pct >"$work/$name-$engine.load"
	start_server "$engine"
	local args=(bench --url "http://127.0.0.1:$PORT" --project bench --secret "$secret" --api-key bench-api-key
		--pid "$server_pid" --source-ips 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 --json "$@")
	cmds+=("$name ($engine): rotor ${args[*]//$secret/SECRET}")
	echo "bench: $name ($engine): rotor ${*}" >&2
	if [ "$PPROF" = 1 ] && [ "$prof" -gt 0 ]; then
		# Profile the middle of the publishing phase (it starts ~2 s in).
		(sleep 3 && curl -fsS -o "$work/$name-$engine.prof" \
			"http://$PPROF_ADDR/debug/pprof/profile?seconds=$prof" 2>/dev/null) &
		prof_pid=$!
	fi
	if ! $pin_gen "$rotor" "${args[@]}" >"$work/$name-$engine.json"; then
		echo "bench: $name ($engine) failed; see above" >&2
	fi
	if [ -n "$prof_pid" ]; then
		wait "$prof_pid" || true
		if [ -s "$work/$name-$engine.prof" ]; then
			$GO tool pprof -top -nodecount=14 "$work/rotor" "$work/$name-$engine.prof" 2>/dev/null |
				sed -n '/flat%/,$p' >"$work/$name-$engine.top" || true
		fi
	fi
	stop_server
}

psec() { awk -v s="$1" -v k="$SCALE" 'BEGIN { v = int(s*k) - 4; print (v < 1 ? 0 : v) }'; }
run W1 memory 0 --idle --subscribers 10000 --channels 10000 --duration "$(dur 5)" --settle 2s
run W2 memory "$(psec 10)" --subscribers 1000 --channels 1 --inflight 8 --duration "$(dur 10)"
run W2r memory "$(psec 10)" --subscribers 1000 --channels 1 --rate 100 --duration "$(dur 10)"
run W3 memory "$(psec 15)" --subscribers 10000 --channels 10000 --rate 2000 --duration "$(dur 15)"
run W4 memory "$(psec 15)" --transport poll --subscribers 1000 --channels 1 --rate 50 --duration "$(dur 15)"

if [ "$BENCH_REDIS" = auto ]; then
	if command -v redis-server >/dev/null 2>&1; then BENCH_REDIS=1; else BENCH_REDIS=0; fi
fi
if [ "$BENCH_REDIS" = 1 ]; then
	$pin_server redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
	redis_pid=$!
	for _ in $(seq 50); do
		if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then break; fi
		sleep 0.1
	done
	run W2 redis "$(psec 10)" --subscribers 1000 --channels 1 --inflight 8 --duration "$(dur 10)"
	run W2r redis "$(psec 10)" --subscribers 1000 --channels 1 --rate 100 --duration "$(dur 10)"
	run W3 redis "$(psec 15)" --subscribers 10000 --channels 10000 --rate 2000 --duration "$(dur 15)"
fi

mem_kb=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
printf '%s\n' "${cmds[@]}" >"$work/commands.txt"
$GO run ./cmd/rotor/loadgen/scripts/render \
	-dir "$work" -out "$OUT" -commands "$work/commands.txt" \
	-nproc "$cores" -cpu "$cpu_model" -mem-kb "$mem_kb" -pinning "$pinning" \
	-go "$($GO env GOVERSION)" -commit "$(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "bench: wrote $OUT" >&2
