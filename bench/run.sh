#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Turnpike and coturn side by side on this machine, in one run: each round starts one server,
# measures it with bench/turn_load, stops it, then does the same for the other (alternating
# which goes first), and prints medians over the rounds and the Turnpike/coturn ratios.
#
#   bench/run.sh [--rounds N] [--duration S] [--skip-ramp]
#
# Both servers get the same settings: loopback only, one user (long-term credentials), 2 relay
# threads, relay ports 49152-65535, loopback peers allowed, no TLS/DTLS/CLI. Needs: coturn
# (Debian package), python3, and a build with -DTURNPIKE_BENCH=ON (done here).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=8
ramp=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --skip-ramp) ramp=0; shift ;;
    *) echo "usage: $0 [--rounds N] [--duration S] [--skip-ramp]" >&2; exit 2 ;;
  esac
done

build=build-bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_BENCH=ON \
  -DTURNPIKE_TESTS=OFF >/dev/null
cmake --build "$build" --target turnpike turn_load >/dev/null
load="$build/bench/turn_load"
out=$(mktemp -d /tmp/turnpike-bench-XXXXXX)
# The raw key=value lines of every run are kept in $build/bench-results.txt.
trap 'kill $(jobs -p) 2>/dev/null || true; cp "$out/results.txt" "$build/bench-results.txt" 2>/dev/null || true; rm -rf "$out"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {  # name port -> pid in $server_pid
  local name="$1" port="$2"
  if [[ "$name" == turnpike ]]; then
    "$build/turnpike" -n -L 127.0.0.1 -p "$port" -r bench -u bench:bench --lt-cred-mech \
      --no-tls --no-dtls --no-cli --allow-loopback-peers --min-port 49152 --max-port 65535 \
      --relay-threads 2 --log-level warning >"$out/server.log" 2>&1 &
  else
    turnserver -n -L 127.0.0.1 -p "$port" -r bench -u bench:bench --lt-cred-mech \
      --no-tls --no-dtls --no-cli --allow-loopback-peers --min-port 49152 --max-port 65535 \
      --relay-threads 2 --log-file stdout --simple-log >"$out/server.log" 2>&1 &
  fi
  server_pid=$!
  sleep 1.5
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  sleep 1
}

measure() {  # name round
  local name="$1" round="$2" port
  port=$(free_port)
  start_server "$name" "$port"
  local base=(--port "$port" --user bench --password bench --server-pid "$server_pid" --warmup 2)
  local common=("${base[@]}" --duration "$duration")
  {
    echo "server=$name round=$round test=relay160 $("$load" "${common[@]}" --mode relay \
      --sessions 16 --payload 160 --rate 250 --threads 2)"
    echo "server=$name round=$round test=relay1200 $("$load" "${common[@]}" --mode relay \
      --sessions 16 --payload 1200 --rate 250 --threads 2)"
    echo "server=$name round=$round test=binding $("$load" "${common[@]}" --mode binding \
      --sessions 16 --threads 2)"
    echo "server=$name round=$round test=allocate $("$load" "${common[@]}" --mode allocate \
      --sessions 2 --inflight 64)"
    echo "server=$name round=$round test=idle10k $("$load" "${common[@]}" --mode idle \
      --sessions 10000)"
    if [[ $ramp == 1 ]]; then
      # Offered load steps (round trips per second per session, 16 sessions, 160 bytes):
      # the highest step with loss under 0.1 %.
      for rate in 1000 2000 3000 4000 5000 6000 7000 8000 10000 12000 16000; do
        line=$("$load" "${base[@]}" --mode relay --sessions 16 --payload 160 --rate "$rate" \
          --threads 2 --duration 4)
        echo "server=$name round=$round test=ramp$rate $line"
        loss=$(sed -n 's/.*loss_pct=\([0-9.e+-]*\).*/\1/p' <<<"$line")
        if python3 -c "import sys; sys.exit(0 if float('$loss') >= 0.1 else 1)"; then break; fi
      done
    fi
  } >>"$out/results.txt"
  stop_server
}

for round in $(seq 1 "$rounds"); do
  if (( round % 2 )); then order=(turnpike coturn); else order=(coturn turnpike); fi
  for name in "${order[@]}"; do
    echo "round $round: $name" >&2
    measure "$name" "$round"
  done
done

python3 - "$out/results.txt" <<'PY'
import re, statistics, sys
rows = []
for line in open(sys.argv[1]):
    kv = dict(re.findall(r'(\w+)=([^\s]+)', line))
    rows.append(kv)
def med(server, test, key):
    vals = [float(r[key]) for r in rows if r.get('server') == server and r.get('test') == test and key in r]
    return statistics.median(vals) if vals else None
def best_lossless(server):
    per_round = {}
    for r in rows:
        if r.get('server') != server or not r.get('test', '').startswith('ramp'):
            continue
        if float(r['loss_pct']) < 0.1:
            per_round[r['round']] = max(per_round.get(r['round'], 0), float(r['offered_pps']))
    return statistics.median(per_round.values()) if per_round else None
lines = [
  ("CPU us per relayed round trip, 16 x 160 B at 4000 rt/s (lower is better)", 'relay160', 'cpu_us_per_rt', True),
  ("CPU us per relayed round trip, 16 x 1200 B at 4000 rt/s (lower is better)", 'relay1200', 'cpu_us_per_rt', True),
  ("Round-trip p99 us, 16 x 160 B (lower is better)", 'relay160', 'rtt_p99_us', True),
  ("Binding answers per server CPU second", 'binding', 'answers_per_cpu_s', False),
  ("Allocations per second (2 workers x 64 under way)", 'allocate', 'allocations_per_s', False),
  ("Allocations per server CPU second", 'allocate', 'allocations_per_cpu_s', False),
  ("Server resident memory with 10 000 idle allocations, bytes (lower is better)", 'idle10k', 'rss_after', True),
  ("Resident bytes added per idle allocation (10 000 held; lower is better)", 'idle10k', 'bytes_per_allocation', True),
]
print(f"{'measure':<72} {'turnpike':>12} {'coturn':>12} {'ratio':>8}")
for title, test, key, lower in lines:
    t, c = med('turnpike', test, key), med('coturn', test, key)
    ratio = '' if not t or not c else f"{(c / t if lower else t / c):.2f}x"
    fmt = lambda v: '-' if v is None else f"{v:.2f}" if v < 100 else f"{v:.0f}"
    print(f"{title:<72} {fmt(t):>12} {fmt(c):>12} {ratio:>8}")
t, c = best_lossless('turnpike'), best_lossless('coturn')
ratio = '' if not t or not c else f"{t / c:.2f}x"
print(f"{'Highest offered round trips/s with loss < 0.1 % (16 x 160 B)':<72} {t or '-':>12} {c or '-':>12} {ratio:>8}")
print("\nratio: how many times better Turnpike is (coturn/turnpike where lower is better).")
print("failed Allocates (allocate test, all rounds):", ", ".join(f"{r['server']} {r['failed']}" for r in rows if r.get('test') == 'allocate'))
print("loss in the fixed-load runs:", ", ".join(f"{r['server']} {r['test']} {float(r['loss_pct']):.3f}%" for r in rows if r.get('test') in ('relay160', 'relay1200')))
PY
