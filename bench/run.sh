#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Turnpike and coturn side by side on this machine, in one run: in each round, each test runs
# against every server in turn (alternating which goes first), each freshly started and
# stopped after it, measured with bench/turn_load; prints medians over the rounds and the
# Turnpike/coturn ratios.
#
#   bench/run.sh [--rounds N] [--duration S] [--skip-ramp] [--mux] [--packing RATE]
#                [--kernel] [--veth] [--generator] [--coturn BINARY]
#                [--many N [--many-only]] [--only TEST,TEST...] [--baseline BINARY]
#
# Both servers get the same settings: loopback only, one user (long-term credentials), 2 relay
# threads, relay ports 49152-65535, loopback peers allowed, no TLS/DTLS/CLI. Needs: coturn
# (Debian package), python3, and a build with -DTURNPIKE_BENCH=ON (done here).
#
# --mux adds a third server, Turnpike with relay-mux, measured the same way. It needs root:
# the whole run then happens in a network namespace of its own (unshare --net) whose
# ephemeral ports end at 49151, so the relay range is the same for all three servers.
# --packing RATE adds another, Turnpike with shard-packing=RATE (root too, the same netns).
# --kernel adds Turnpike with kernel-relay (root too, the same netns): bound channels relayed
# in the kernel (at TC ingress on loopback), so compare it on machine_us_per_rt (whole-machine
# CPU from /proc/stat, softirq and the sender's context included), not on the server's own
# CPU.
# --veth puts every server in a network namespace of its own behind a veth pair, as behind a
# NIC: the generator's clients (10.203.0.2) and echo peers (10.203.0.3) on one end, the
# server (10.203.0.1, forwarding on) on the other, checksum offload off on both ends (so
# every checksum is computed and checked, as between machines). With --kernel it measures
# both hooks there: turnpike-kernel-xdp (XDP in veth's driver) and turnpike-kernel-tc. (What
# XDP sends back out of a veth reaches the other end only when that end runs XDP too: the
# generator's end gets a program that passes everything, for every server alike.)
# --generator adds `generator`: turn_load with no server, its sessions talking to the echo
# peers directly (relay tests only): how much of the machine the generator itself costs.
# --coturn BINARY compares with that coturn turnserver (a build of a later release, say)
# instead of Debian's.
# --only runs just those of relay160 relay1200 relay160x40k relay1200x40k binding allocate
# idle10k ramp many (the x40k tests: 16 sessions at 2 500 round trips/s each).
# --baseline BINARY adds `turnpike-base`: another turnpike binary (an earlier commit's build)
# with plain Turnpike's settings, measured in the same rounds: before and after a change,
# seconds apart.
# --many N also holds N idle allocations on each server (one load process per 15 000, from
# 127.0.0.2 up, each under the 20 000-descriptor limit; one relay address per 16 384) and reads
# the server's resident memory. --many-only measures that alone.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=8
ramp=1
mux=0
packing=0
many=0
many_only=0
only=""
baseline=""
kernel=0
veth=0
generator=0
coturn_binary=turnserver
args=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --skip-ramp) ramp=0; shift ;;
    --mux) mux=1; shift ;;
    --packing) packing="$2"; shift 2 ;;
    --many) many="$2"; shift 2 ;;
    --many-only) many_only=1; shift ;;
    --only) only="$2"; shift 2 ;;
    --baseline) baseline="$(realpath "$2")"; shift 2 ;;
    --kernel) kernel=1; shift ;;
    --veth) veth=1; shift ;;
    --generator) generator=1; shift ;;
    --coturn) coturn_binary="$(realpath "$2")"; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--duration S] [--skip-ramp] [--mux] [--packing RATE] [--kernel] [--veth] [--generator] [--coturn BINARY] [--many N [--many-only]] [--only TEST,...] [--baseline BINARY]" >&2; exit 2 ;;
  esac
done

if [[ ( $mux == 1 || $packing != 0 || $kernel == 1 || $veth == 1 ) && -z "${TURNPIKE_BENCH_NETNS:-}" ]]; then
  [[ $(id -u) == 0 ]] || { echo "bench: --mux, --packing, --kernel and --veth need root (BPF, raw sockets, a netns)" >&2; exit 1; }
  exec unshare --net -- env TURNPIKE_BENCH_NETNS=1 bash "$0" "${args[@]}"
fi
if [[ -n "${TURNPIKE_BENCH_NETNS:-}" ]]; then
  ip link set lo up
  echo "32768 49151" >/proc/sys/net/ipv4/ip_local_port_range
fi
servers=(turnpike coturn)
[[ $mux == 1 ]] && servers+=(turnpike-mux)
[[ $packing != 0 ]] && servers+=(turnpike-packed)
[[ $kernel == 1 && $veth == 0 ]] && servers+=(turnpike-kernel)
[[ $kernel == 1 && $veth == 1 ]] && servers+=(turnpike-kernel-xdp turnpike-kernel-tc)
[[ -n $baseline ]] && servers+=(turnpike-base)
[[ $generator == 1 ]] && servers+=(generator)

build=build-bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTURNPIKE_BENCH=ON \
  -DTURNPIKE_TESTS=OFF >/dev/null
cmake --build "$build" --target turnpike turn_load >/dev/null
load="$build/bench/turn_load"
out=$(mktemp -d /tmp/turnpike-bench-XXXXXX)
# The raw key=value lines of every run are kept in $build/bench-results.txt.
sns=""
trap 'kill $(jobs -p) 2>/dev/null || true; cp "$out/results.txt" "$build/bench-results.txt" 2>/dev/null || true; rm -rf "$out"; [[ -z $sns ]] || ip netns del "$sns"' EXIT

# Where the servers listen and run, and where the generator's clients and peers are.
server_ip=127.0.0.1
in_server=()
load_at=()
if [[ $veth == 1 ]]; then
  sns="tpbench$$"
  ip netns add "$sns"  # deleted on exit (the trap above)
  ip link add tpbg type veth peer name tpbs
  ip link set tpbs netns "$sns"
  in_server=(nsenter "--net=/run/netns/$sns")
  server_ip=10.203.0.1
  ip addr add 10.203.0.2/24 dev tpbg
  ip addr add 10.203.0.3/24 dev tpbg
  ethtool -K tpbg tx off rx off >/dev/null
  ip link set tpbg up
  printf '%s\n' '#include <linux/bpf.h>' '#include <bpf/bpf_helpers.h>' \
    'SEC("xdp") int pass(struct xdp_md* ctx) { return XDP_PASS; }' \
    'char _license[] SEC("license") = "GPL";' >"$out/pass.bpf.c"
  clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" -c "$out/pass.bpf.c" -o "$out/pass.bpf.o"
  ip link set dev tpbg xdpdrv obj "$out/pass.bpf.o" sec xdp
  "${in_server[@]}" ip addr add "$server_ip/24" dev tpbs
  "${in_server[@]}" ethtool -K tpbs tx off rx off >/dev/null
  "${in_server[@]}" sysctl -qw net.ipv4.conf.all.forwarding=1
  "${in_server[@]}" ip link set tpbs up
  "${in_server[@]}" ip link set lo up
  "${in_server[@]}" sh -c 'echo "32768 49151" >/proc/sys/net/ipv4/ip_local_port_range'
  load_at=(--server "$server_ip" --client-ip 10.203.0.2 --peer-ip 10.203.0.3)
fi

free_port() {
  "${in_server[@]}" python3 -c 'import socket, sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$server_ip"
}

# With --many, as many relay addresses for every server as N needs at 16 384 relay ports
# each (127.0.0.1, then 127.0.1.1 up): four for 50 000, seven for 100 000.
relay_ips=()
if (( many > 0 )); then
  relay_ips=(-E 127.0.0.1)
  for (( i = 1; i < (many + 16383) / 16384; i++ )); do relay_ips+=(-E "127.0.1.$i"); done
fi
many_loads=$(( (many + 14999) / 15000 ))  # load processes, each under 20 000 descriptors

start_server() {  # name port -> pid in $server_pid
  local name="$1" port="$2"
  if [[ "$name" == generator ]]; then
    server_pid=0
    return
  fi
  if [[ "$name" == turnpike* ]]; then
    local extra=("${relay_ips[@]}")
    [[ "$name" == turnpike-mux ]] && extra+=(--relay-mux)
    [[ "$name" == turnpike-packed ]] && extra+=(--shard-packing "$packing")
    [[ "$name" == turnpike-kernel ]] && extra+=(--kernel-relay)
    [[ "$name" == turnpike-kernel-xdp ]] && extra+=(--kernel-relay --kernel-relay-mode native)
    [[ "$name" == turnpike-kernel-tc ]] && extra+=(--kernel-relay --kernel-relay-mode tc)
    local binary="$build/turnpike"
    [[ "$name" == turnpike-base ]] && binary="$baseline"
    "${in_server[@]}" "$binary" -n -L "$server_ip" -p "$port" -r bench -u bench:bench \
      --lt-cred-mech --no-tls --no-dtls --no-cli --allow-loopback-peers \
      --allowed-peer-ip 10.203.0.3 --min-port 49152 --max-port 65535 \
      --relay-threads 2 --log-level warning "${extra[@]}" >"$out/server.log" 2>&1 &
  else
    "${in_server[@]}" "$coturn_binary" -n -L "$server_ip" -p "$port" -r bench -u bench:bench \
      --lt-cred-mech --no-tls --no-dtls --no-cli --allow-loopback-peers \
      --allowed-peer-ip 10.203.0.3 --min-port 49152 --max-port 65535 \
      --relay-threads 2 --log-file stdout --simple-log "${relay_ips[@]}" >"$out/server.log" 2>&1 &
  fi
  server_pid=$!
  sleep 1.5
}

# One turn_load run's key=value line, or error=1 (its message kept in load-errors.txt) when it
# could not run, so one failed measurement does not end the whole run.
load_line() {
  "$load" "$@" 2>>"$out/load-errors.txt" || echo "error=1"
}

rss_of() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

# N idle allocations from $many_loads load processes (127.0.0.2 up) held at once; the
# server's resident memory before and while they are held.
hold_many() {  # name round port
  local name="$1" round="$2" port="$3" per=$(( many / many_loads )) pids=() before after held=0 i
  before=$(rss_of "$server_pid")
  for (( i = 0; i < many_loads; i++ )); do
    "$load" --port "$port" --user bench --password bench --server-pid "$server_pid" \
      --mode idle --sessions "$per" --client-ip "127.0.0.$(( i + 2 ))" --client-port 10000 \
      --hold 600 >"$out/many$i.txt" 2>&1 &
    pids+=($!)
  done
  for (( i = 0; i < many_loads; i++ )); do
    while ! grep -qs 'mode=idle' "$out/many$i.txt" && kill -0 "${pids[$i]}" 2>/dev/null; do
      sleep 1
    done
  done
  sleep 1
  after=$(rss_of "$server_pid")
  for (( i = 0; i < many_loads; i++ )); do
    held=$(( held + $(sed -n 's/.*mode=idle allocations=\([0-9]*\).*/\1/p' "$out/many$i.txt" || echo 0) ))
  done
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "server=$name round=$round test=many asked=$(( per * many_loads )) allocations=$held rss_before=$before rss_after=$after bytes_per_allocation=$(( held > 0 ? (after - before) / held : 0 )) rss_per_allocation=$(( held > 0 ? after / held : 0 ))"
}

stop_server() {
  (( server_pid > 0 )) || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  sleep 1
}

# One test on a freshly started server: name round test.
measure() {
  local name="$1" round="$2" test="$3" port line rate loss
  port=$(free_port)
  start_server "$name" "$port"
  local base=(--port "$port" --user bench --password bench --server-pid "$server_pid" --warmup 2
              "${load_at[@]}")
  local common=("${base[@]}" --duration "$duration")
  if [[ "$name" == generator ]]; then
    [[ "$test" == relay* ]] || { stop_server; return; }
    common+=(--direct)
  fi
  {
    case "$test" in
      relay160x40k|relay1200x40k)
        local size="${test#relay}"
        echo "server=$name round=$round test=$test $(load_line "${common[@]}" --mode relay \
          --sessions 16 --payload "${size%x40k}" --rate 2500 --threads 2)" ;;
      relay160|relay1200)
        echo "server=$name round=$round test=$test $(load_line "${common[@]}" --mode relay \
          --sessions 16 --payload "${test#relay}" --rate 250 --threads 2)" ;;
      binding)
        echo "server=$name round=$round test=binding $(load_line "${common[@]}" --mode binding \
          --sessions 16 --threads 2)" ;;
      allocate)
        # Client addresses 127.0.2.1-16, ports from 1024 in turn: no five-tuple comes back
        # within a run, so a server that holds deleted allocations a while never answers 437.
        echo "server=$name round=$round test=allocate $(load_line "${common[@]}" --mode allocate \
          --sessions 2 --inflight 64 --client-ip 127.0.2.1 --client-port 1024 --client-ips 16)" ;;
      idle10k)
        echo "server=$name round=$round test=idle10k $(load_line "${common[@]}" --mode idle \
          --sessions 10000)" ;;
      ramp)
        # Offered load steps (round trips per second per session, 16 sessions, 160 bytes):
        # the highest step with loss under 0.1 %.
        for rate in 1000 2000 3000 4000 5000 6000 7000 8000 10000 12000 16000 20000 24000 32000 40000 48000; do
          line=$(load_line "${base[@]}" --mode relay --sessions 16 --payload 160 --rate "$rate" \
            --threads 2 --duration 4)
          echo "server=$name round=$round test=ramp$rate $line"
          [[ "$line" == *error=1* ]] && break
          loss=$(sed -n 's/.*loss_pct=\([0-9.e+-]*\).*/\1/p' <<<"$line")
          if python3 -c "import sys; sys.exit(0 if float('$loss') >= 0.1 else 1)"; then break; fi
        done ;;
      many) hold_many "$name" "$round" "$port" ;;
    esac
  } >>"$out/results.txt"
  stop_server
}

tests=()
if (( many_only == 0 )); then
  tests=(relay160x40k relay1200x40k relay160 relay1200 binding allocate idle10k)
  [[ $ramp == 1 ]] && tests+=(ramp)
fi
(( many > 0 )) && tests+=(many)
if [[ -n "$only" ]]; then
  IFS=, read -r -a tests <<<"$only"
fi

# Test by test, every server in turn, so the servers' figures for one test are taken seconds
# apart: on a shared machine whose speed drifts over minutes, that keeps the drift out of the
# ratios. Each round in another order, so no server always goes first.
for round in $(seq 1 "$rounds"); do
  order=("${servers[@]:$(( (round - 1) % ${#servers[@]} ))}" "${servers[@]:0:$(( (round - 1) % ${#servers[@]} ))}")
  for test in "${tests[@]}"; do
    for name in "${order[@]}"; do
      echo "round $round: $test: $name" >&2
      measure "$name" "$round" "$test"
    done
  done
done

if [[ -s "$out/load-errors.txt" ]]; then
  echo "load generator errors:" >&2
  sort "$out/load-errors.txt" | uniq -c >&2
fi
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
        if r.get('server') != server or not r.get('test', '').startswith('ramp') or 'loss_pct' not in r:
            continue
        if float(r['loss_pct']) < 0.1:
            per_round[r['round']] = max(per_round.get(r['round'], 0), float(r['offered_pps']))
    return statistics.median(per_round.values()) if per_round else None
lines = [
  ("Whole-machine CPU us per round trip, 16 x 160 B at 40 000 rt/s (lower is better)", 'relay160x40k', 'machine_us_per_rt', True),
  ("Whole-machine CPU us per round trip, 16 x 1200 B at 40 000 rt/s (lower is better)", 'relay1200x40k', 'machine_us_per_rt', True),
  ("Server CPU us per round trip, 16 x 160 B at 40 000 rt/s (lower is better)", 'relay160x40k', 'cpu_us_per_rt', True),
  ("Loss at 40 000 rt/s, 160 B, % (lower is better)", 'relay160x40k', 'loss_pct', True),
  ("Whole-machine CPU us per round trip, 16 x 160 B at 4000 rt/s (lower is better)", 'relay160', 'machine_us_per_rt', True),
  ("CPU us per relayed round trip, 16 x 160 B at 4000 rt/s (lower is better)", 'relay160', 'cpu_us_per_rt', True),
  ("CPU us per relayed round trip, 16 x 1200 B at 4000 rt/s (lower is better)", 'relay1200', 'cpu_us_per_rt', True),
  ("Round-trip p99 us, 16 x 160 B (lower is better)", 'relay160', 'rtt_p99_us', True),
  ("Binding answers per server CPU second", 'binding', 'answers_per_cpu_s', False),
  ("Allocations per second (2 workers x 64 under way)", 'allocate', 'allocations_per_s', False),
  ("Allocations per server CPU second", 'allocate', 'allocations_per_cpu_s', False),
  ("Server resident memory with 10 000 idle allocations, bytes (lower is better)", 'idle10k', 'rss_after', True),
  ("Resident bytes added per idle allocation (10 000 held; lower is better)", 'idle10k', 'bytes_per_allocation', True),
]
extra = [s for s in ('turnpike-mux', 'turnpike-packed', 'turnpike-kernel', 'turnpike-kernel-xdp', 'turnpike-kernel-tc', 'turnpike-base', 'generator') if any(r.get('server') == s for r in rows)]
fmt = lambda v: '-' if v is None else f"{v:.2f}" if v < 100 else f"{v:.0f}"
def ratio(t, c, lower):
    return '' if not t or not c else f"{(c / t if lower else t / c):.2f}x"
header = f"{'measure':<72} {'turnpike':>12} {'coturn':>12} {'ratio':>8}"
for s in extra:
    header += f" {s:>15} {'ratio':>8}"
print(header)
def row(title, value, lower):  # value(server) -> the median, or None; no row without one
    if all(value(s) is None for s in ['turnpike', 'coturn'] + extra):
        return
    t, c = value('turnpike'), value('coturn')
    out = f"{title:<72} {fmt(t):>12} {fmt(c):>12} {ratio(t, c, lower):>8}"
    for s in extra:
        m = value(s)
        out += f" {fmt(m):>15} {ratio(m, c, lower):>8}"
    print(out)
for title, test, key, lower in lines:
    row(title, lambda s: med(s, test, key), lower)
row("Highest offered round trips/s with loss < 0.1 % (16 x 160 B)", best_lossless, False)
many = [r for r in rows if r.get('test') == 'many']
if many:
    asked = many[0]['asked']
    for title, key, lower in (
            (f"Idle allocations held when {asked} are asked for", 'allocations', False),
            ("Server resident memory while holding them, bytes (lower is better)", 'rss_after', True),
            ("Resident bytes per allocation held, whole process (lower is better)", 'rss_per_allocation', True)):
        row(title, lambda s: med(s, 'many', key), lower)
print("\nratio: how many times better Turnpike is (coturn/turnpike where lower is better).")
print("failed Allocates (allocate test, all rounds):", ", ".join(f"{r['server']} {r.get('failed', 'n/a')}" for r in rows if r.get('test') == 'allocate'))
print("allocate test, next allocation on a deleted one's socket:", ", ".join(
    f"{r['server']} {'refused (437), fresh sockets' if int(r.get('reuse_refused', 0)) else 'accepted'}"
    for r in rows if r.get('test') == 'allocate' and 'failed' in r))
print("loss in the fixed-load runs:", ", ".join(f"{r['server']} {r['test']} {float(r['loss_pct']):.3f}%" for r in rows if r.get('test') in ('relay160', 'relay1200') and 'loss_pct' in r))
drops = {}
for r in rows:
    if 'generator_drops' in r:
        drops[r['server']] = drops.get(r['server'], 0) + int(r['generator_drops'])
print("datagrams the generator's own sockets dropped (relay tests, all rounds):",
      ", ".join(f"{s} {n}" for s, n in drops.items()) or "not reported")
print("runs that could not measure:", ", ".join(f"{r['server']} round {r['round']} {r['test']}" for r in rows if r.get('error')) or "none")
PY
