#!/usr/bin/env bash
# bench.sh runs the workloads W1–W4 of docs/benchmarks.md and writes the results section of
# docs/benchmarks.md. Run it from the repository root: `make bench`.
#
# With peers (the default when ../shared/bench exists beside the checkout): it installs the peer
# servers that are missing with ../shared/bench/anchors-setup.sh (Centrifugo from the Go module
# proxy, Nchan from Debian), then measures Rotor and every peer that supports each workload
# (Centrifugo W1–W3, Nchan W1–W4) with that folder's load generator, back to back: a round runs
# W1 to W4, each on Rotor (and W2 on Rotor with Redis) and then the peers; BENCH_ROUNDS rounds
# run one after the other (the order of the servers is reversed every other round) and the
# page shows medians, so every ratio comes from runs minutes apart on the same machine.
#
# Without peers (no ../shared/bench, or BENCH_PEERS=0): Rotor alone with `rotor bench`, as a
# user would run it, and a line saying why the peers were skipped.
#
# Either way each server is pinned to core 0 (GOMAXPROCS=1) and the generator to core 1 when the
# machine has two cores or more; every run is bounded (the generator's own limit and `timeout`).
#
# Environment: GO (go), OUT (docs/benchmarks.md), BENCH_SCALE (1: multiply durations, e.g. 0.5),
# BENCH_ROUNDS (3 with peers, 1 without), BENCH_PEERS (auto|0), BENCH_PEERS_DIR
# (../shared/bench), BENCH_REDIS (auto|0|1: also run W2 with the Redis engine, Redis on core 0),
# BENCH_KEEP (a folder to copy the raw reports into), BENCH_PPROF (1 without peers, 0 with: profile Rotor during each publishing run; profiling
# costs the server CPU, so it is off when Rotor is compared with peers).
set -euo pipefail

GO=${GO:-go}
OUT=${OUT:-docs/benchmarks.md}
BENCH_REDIS=${BENCH_REDIS:-auto}
SCALE=${BENCH_SCALE:-1}
PORT=${BENCH_PORT:-18790}
REDIS_PORT=${BENCH_REDIS_PORT:-18791}
PPROF_ADDR=127.0.0.1:${BENCH_PPROF_PORT:-18792}
PEERS=${BENCH_PEERS:-auto}
PEERS_DIR=${BENCH_PEERS_DIR:-../shared/bench}

work=$(mktemp -d)
mkdir -p "$work/runs"
server_pid=""
redis_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

say() { echo "bench: $*" >&2; }
dur() { awk -v s="$1" -v k="$SCALE" 'BEGIN { printf "%ds", (s*k < 1 ? 1 : s*k) }'; }

# 10,000 subscribers need 10,000 descriptors in each process, plus slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 12000 ]; then
	say "ulimit -n is $(ulimit -n); W1 and W3 need more than 10,000 descriptors"
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
	say "$pinning"
fi

# Which peers can run. A peer that cannot be installed is skipped with its reason; Rotor is
# measured regardless.
peers=()
peers_note=""
if [ "$PEERS" = 0 ]; then
	peers_note="peers skipped: BENCH_PEERS=0"
elif [ ! -x "$PEERS_DIR/anchor-run.sh" ]; then
	peers_note="peers skipped: $PEERS_DIR (the shared peer harness beside this checkout) is not there"
else
	peers_shown=$PEERS_DIR # as given, for the page
	PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
	anchors=${ANCHORS:-$HOME/.cache/rotor-anchors}
	say "installing missing peers with $PEERS_DIR/anchors-setup.sh (may take minutes the first time)"
	setup_msg=$(timeout 1200 "$PEERS_DIR/anchors-setup.sh" 2>&1) || true
	if [ -x "$anchors/centrifugo-bin" ]; then peers+=(centrifugo); else peers_note="Centrifugo skipped: ${setup_msg:-not installed}"; fi
	if [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] && command -v nginx >/dev/null 2>&1; then
		peers+=(nchan)
	else
		peers_note="${peers_note:+$peers_note; }Nchan skipped: ${setup_msg:-not installed}"
	fi
fi
[ -n "$peers_note" ] && say "$peers_note"
if [ ${#peers[@]} -gt 0 ]; then mode=peers; else mode=alone; fi
ROUNDS=${BENCH_ROUNDS:-$([ "$mode" = peers ] && echo 3 || echo 1)}
PPROF=${BENCH_PPROF:-$([ "$mode" = peers ] && echo 0 || echo 1)}
say "mode: $mode (${peers[*]:-Rotor alone}), $ROUNDS round(s), scale $SCALE"

say "building rotor"
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

# The peer harness builds its generator under $TMPDIR/rotor-peer-bench; a private TMPDIR keeps
# it (and the harness's temporary folders) inside $work, and Rotor is measured with that same
# binary.
gen=""
if [ "$mode" = peers ]; then
	say "building the peer generator from $PEERS_DIR"
	mkdir -p "$work/tmp/rotor-peer-bench"
	(cd "$PEERS_DIR" && $GO build -o "$work/tmp/rotor-peer-bench/bench" .)
	gen="$work/tmp/rotor-peer-bench/bench"
fi

secret="bench-secret-bench-secret-bench-secret-$(date +%s)"
write_config() { # engine redis_url
	cat >"$work/rotor.yaml" <<CFG
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
          history_size: 100
          history_ttl: 5m
log:
  level: warn
CFG
}

start_redis() {
	$pin_server redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
	redis_pid=$!
	for _ in $(seq 50); do
		if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	say "redis-server did not start"
	return 1
}

stop_redis() {
	kill "$redis_pid" 2>/dev/null || true
	wait "$redis_pid" 2>/dev/null || true
	redis_pid=""
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
	say "server did not become ready:"
	cat "$work/server.log" >&2
	exit 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# note_load records how busy the machine was just before a run: the share of all cores busy
# over one second (/proc/stat) and the 1-minute load average.
note_load() { # file
	local a b
	a=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat)
	echo "$a $b $(cut -d' ' -f1 /proc/loadavg)" |
		awk '{ t = $4 - $2; printf "%.0f %% busy, load %s\n", (t > 0 ? 100 * ($3 - $1) / t : 0), $5 }' >"$1"
}

cmds=()
# The bound on one run: the generator stops itself at -limit / on its own deadlines; timeout is
# the backstop.
run_limit=$(awk -v k="$SCALE" 'BEGIN { v = int(120*k) + 60; print v }')

# run_rotor: Rotor with `rotor bench` (the mode without peers).
run_rotor() { # round name engine profile-seconds args...
	local round=$1 name=$2 engine=$3 prof=$4 prof_pid="" base
	shift 4
	base="$work/runs/$round-$name-rotor"
	if [ "$engine" = redis ]; then base+=-redis; fi
	note_load "$base.load"
	start_server "$engine"
	local args=(bench --url "http://127.0.0.1:$PORT" --project bench --secret "$secret" --api-key bench-api-key
		--pid "$server_pid" --source-ips 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 --json "$@")
	[ "$round" = 1 ] && cmds+=("$name (Rotor, $engine): rotor ${args[*]//$secret/SECRET}")
	say "round $round $name rotor ($engine): rotor ${*}"
	if [ "$PPROF" = 1 ] && [ "$prof" -gt 0 ]; then
		# Profile the middle of the publishing phase (it starts ~2 s in).
		(sleep 3 && curl -fsS -o "$base.prof" \
			"http://$PPROF_ADDR/debug/pprof/profile?seconds=$prof" 2>/dev/null) &
		prof_pid=$!
	fi
	if ! timeout -k 5 "$run_limit" $pin_gen "$rotor" "${args[@]}" >"$base.rotor.json"; then
		say "$name (Rotor, $engine) failed; see above"
	fi
	if [ -n "$prof_pid" ]; then
		wait "$prof_pid" || true
		if [ -s "$base.prof" ]; then
			$GO tool pprof -top -nodecount=14 "$rotor" "$base.prof" 2>/dev/null |
				sed -n '/flat%/,$p' >"$base.top" || true
		fi
	fi
	stop_server
}

# flags_for prints the peer generator's flags for a workload (the same for every server).
flags_for() {
	local common=(-limit "${run_limit}s" -conntimeout 60s -drain 2s)
	case $1 in
	W1) echo "${common[*]} -n 10000 -settle $(dur 3)" ;;
	W2) echo "${common[*]} -n 1000 -rate 100 -inflight 8 -dur $(dur 10) -settle 1s" ;;
	W3) echo "${common[*]} -n 10000 -rate 2000 -dur $(dur 15) -settle 1s" ;;
	W4) echo "${common[*]} -n 1000 -rate 50 -dur $(dur 15) -settle 1s" ;;
	esac
}

# run_peer_gen: one workload on one server with the peer generator; system is rotor,
# rotor-redis, centrifugo or nchan.
run_peer_gen() { # round workload system
	local round=$1 wl=$2 sys=$3 base rc=0
	base="$work/runs/$round-$wl-$sys"
	local flags
	read -r -a flags <<<"$(flags_for "$wl")"
	note_load "$base.load"
	say "round $round $wl $sys"
	case $sys in
	rotor | rotor-redis)
		local engine=memory
		if [ "$sys" = rotor-redis ]; then
			engine=redis
			start_redis || return 0
		fi
		start_server "$engine"
		local args=(-target rotor -workload "$wl" -addr "127.0.0.1:$PORT" -pid "$server_pid"
			-rotor-project bench -rotor-secret "$secret" -rotor-api-key bench-api-key
			-json "$base.peer.json" "${flags[@]}")
		if [ "$round" = 1 ]; then
			local shown="${args[*]//$secret/SECRET}"
			cmds+=("$wl ($sys): bench ${shown//$base.peer.json/FILE}")
		fi
		timeout -k 5 "$run_limit" $pin_gen "$gen" "${args[@]}" >"$base.log" 2>&1 || rc=$?
		stop_server
		[ "$sys" = rotor-redis ] && stop_redis
		;;
	*)
		[ "$round" = 1 ] && cmds+=("$wl ($sys): $peers_shown/anchor-run.sh $sys $wl ${flags[*]}")
		TMPDIR="$work/tmp" timeout -k 5 $((run_limit + 30)) "$PEERS_DIR/anchor-run.sh" "$sys" "$wl" "${flags[@]}" >"$base.log" 2>&1 || rc=$?
		grep '^{' "$base.log" | tail -1 >"$base.peer.json" || true
		;;
	esac
	if [ "$rc" != 0 ] || [ ! -s "$base.peer.json" ] || grep -q '"subscribers_ready":0[,}]' "$base.peer.json"; then
		# Keep why: the generator's first errors (or the harness's last words) go into the page.
		{ grep -m 2 -i 'error\|fail\|timed out\|limit' "$base.log" || grep -v '^{' "$base.log" | tail -2; } |
			tr '\n|' '  ' >"$base.fail"
		say "$wl $sys failed (exit $rc): $(cat "$base.fail")"
	fi
}

if [ "$BENCH_REDIS" = auto ]; then
	if command -v redis-server >/dev/null 2>&1; then BENCH_REDIS=1; else BENCH_REDIS=0; fi
fi

start_load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
if [ "$mode" = peers ]; then
	for round in $(seq "$ROUNDS"); do
		for wl in W1 W2 W3 W4; do
			systems=(rotor)
			[ "$wl" = W2 ] && [ "$BENCH_REDIS" = 1 ] && systems+=(rotor-redis)
			for p in "${peers[@]}"; do
				[ "$p" = centrifugo ] && [ "$wl" = W4 ] && continue # no long-poll transport
				systems+=("$p")
			done
			if [ $((round % 2)) = 0 ]; then # reverse: no server always runs first
				local_rev=()
				for ((i = ${#systems[@]} - 1; i >= 0; i--)); do local_rev+=("${systems[i]}"); done
				systems=("${local_rev[@]}")
			fi
			for sys in "${systems[@]}"; do run_peer_gen "$round" "$wl" "$sys"; done
		done
	done
else
	psec() { awk -v s="$1" -v k="$SCALE" 'BEGIN { v = int(s*k) - 4; print (v < 1 ? 0 : v) }'; }
	for round in $(seq "$ROUNDS"); do
		run_rotor "$round" W1 memory 0 --idle --subscribers 10000 --channels 10000 --duration "$(dur 5)" --settle 2s
		run_rotor "$round" W2 memory "$(psec 10)" --subscribers 1000 --channels 1 --inflight 8 --duration "$(dur 10)"
		run_rotor "$round" W2r memory "$(psec 10)" --subscribers 1000 --channels 1 --rate 100 --duration "$(dur 10)"
		run_rotor "$round" W3 memory "$(psec 15)" --subscribers 10000 --channels 10000 --rate 2000 --duration "$(dur 15)"
		run_rotor "$round" W4 memory "$(psec 15)" --transport poll --subscribers 1000 --channels 1 --rate 50 --duration "$(dur 15)"
		if [ "$BENCH_REDIS" = 1 ] && start_redis; then
			run_rotor "$round" W2 redis "$(psec 10)" --subscribers 1000 --channels 1 --inflight 8 --duration "$(dur 10)"
			run_rotor "$round" W2r redis "$(psec 10)" --subscribers 1000 --channels 1 --rate 100 --duration "$(dur 10)"
			stop_redis
		fi
	done
fi
end_load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%s\n' "${cmds[@]}" >"$work/commands.txt"
if [ -n "${BENCH_KEEP:-}" ]; then # keep the raw reports, e.g. to render them again
	mkdir -p "$BENCH_KEEP" && cp -r "$work/runs/." "$BENCH_KEEP/" && cp "$work/commands.txt" "$BENCH_KEEP/" 2>/dev/null || true
fi

mem_kb=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
$GO run ./cmd/rotor/loadgen/scripts/render \
	-dir "$work/runs" -out "$OUT" -commands "$work/commands.txt" -mode "$mode" -peers-note "$peers_note" \
	-rounds "$ROUNDS" -scale "$SCALE" -started "$started" -load "start $start_load, end $end_load" \
	-nproc "$cores" -cpu "$cpu_model" -mem-kb "$mem_kb" -pinning "$pinning" \
	-go "$($GO env GOVERSION)" -commit "$(git describe --always --dirty 2>/dev/null || echo unknown)"
say "wrote $OUT"
[ -n "$peers_note" ] && say "$peers_note"
exit 0
