#!/usr/bin/env bash
# Swarm benchmark: VIEWERS real peers (`rilla swarm`, one process) follow the built-in live
# stream through the release proxy on loopback, twice: once with the route policy
# "adaptive" (the product's default, peers deliver) and once with "cdn-only" (every hint
# says CDN), each time with a fresh proxy so that counters and the swarm index start clean,
# and the same swarm settings.
#
# Builds `rilla` (release) unless RILLA_BIN is given, installs curl and python3 from
# Debian's packages if missing, starts `rilla origin` once and `rilla proxy` per phase on
# free loopback ports (P2P prefix rate limits raised: all viewers come from 127.0.0.1), runs
# `rilla swarm URL --viewers N --join-rate R --duration D --json` and reads its summary.
# For each phase it prints deflection, stalls and stall ratio, TTFF p50/p95, CDN and peer
# bytes, hash failures, the proxy's CPU time (from /proc/<pid>/stat, before and after)
# overall and per viewer-minute watched, the peers' own CPU time (the swarm process, from
# this shell's reaped-children times) and the origin's, and what else kept the machine
# busy: the peers run on the same cores as the proxy. Then the ratio of CDN egress
# (adaptive / cdn-only), a steady-state deflection that leaves out the join period
# (1 - adaptive CDN bytes / cdn-only CDN bytes, both from the swarm's CDN egress per second
# after STEADY_AFTER seconds), the CDN egress over time side by side, and the verdicts
# against the targets: deflection >= 90 %, stall ratio no worse than cdn-only.
#
# It exits non-zero on errors only: something fails to build or start, a process dies, the
# swarm fails or overruns, a summary is missing viewers or reports hash failures, segments
# played unverified, or viewers that stopped on an error. Missing a target is not an error:
# the figures depend on the machine and on what else runs on it.
#
# Settings (environment): VIEWERS (200), DURATION (120s; s, m or ms), JOIN_RATE (20 viewers
# a second), STEADY_AFTER (20, seconds left out of the steady state), PROXY_THREADS (2, the
# proxy's `[server] threads`), STREAM (ch1), RILLA_BIN (a `rilla` binary to use instead of
# building one), QUICK=1 (a fast check: VIEWERS=50 DURATION=40s unless they are given),
# KEEP_WORK=1 (keep the work directory: configurations, logs, the swarm summaries with
# every viewer's, /metrics after each phase; its path is printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/install.sh
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/bench.sh

if [ "${QUICK:-0}" != 0 ]; then
    viewers=${VIEWERS:-50}
    duration=${DURATION:-40s}
else
    viewers=${VIEWERS:-200}
    duration=${DURATION:-120s}
fi
join_rate=${JOIN_RATE:-20}
steady_after=${STEADY_AFTER:-20}
proxy_threads=${PROXY_THREADS:-2}
stream=${STREAM:-ch1}
phases=(adaptive cdn-only)

die() {
    echo "swarm.sh: $*" >&2
    exit 1
}

# A duration as `rilla` reads it ("120s", "2m", "500ms") in whole seconds.
seconds_of() {
    awk -v d="$1" 'BEGIN {
        if (d !~ /^[0-9]+(\.[0-9]+)?(ms|s|m|h)$/) exit 1
        n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
        if (u == "ms") n /= 1000; else if (u == "m") n *= 60; else if (u == "h") n *= 3600
        printf "%d\n", n }'
}
duration_s=$(seconds_of "$duration") || die "DURATION must be a number with a unit (s, m, h or ms): $duration"
if ! [[ $viewers =~ ^[0-9]+$ ]] || [ "$viewers" -lt 2 ]; then
    die "VIEWERS must be a number >= 2"
fi
[[ $steady_after =~ ^[0-9]+$ ]] || die "STEADY_AFTER must be a number of seconds"
[ "$duration_s" -gt "$steady_after" ] || die "DURATION ($duration) must be longer than STEADY_AFTER ($steady_after s)"
awk -v r="$join_rate" 'BEGIN { exit !(r + 0 >= 0 && r ~ /^[0-9.]+$/) }' || die "JOIN_RATE must be a number >= 0"
[[ $stream =~ ^[a-z0-9]{1,16}$ ]] || die "STREAM must be 1 to 16 characters of a-z 0-9"

# ---- tools -------------------------------------------------------------------------------
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3
if [ -n "${RILLA_BIN:-}" ]; then
    rilla=$(realpath "$RILLA_BIN")
    [ -x "$rilla" ] || die "RILLA_BIN=$RILLA_BIN is not an executable"
else
    install_build_tools
    echo "== cargo build --release --locked -p rilla-proxy --bin rilla"
    cargo build --release --locked -p rilla-proxy --bin rilla
    rilla=$PWD/target/release/rilla
fi

# ---- clean-up of everything started here ---------------------------------------------------
keep_work=${KEEP_WORK:-0}
bench_workdir rilla-swarm

# Forgets PID once it has been reaped here (so that the clean-up never signals a reused id).
forget() {
    local pid kept=()
    for pid in "${pids[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    pids=("${kept[@]}")
}

# CPU time (clock ticks, user + system) used so far by PID.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time (clock ticks) of the children this shell has reaped: the swarm's, once waited
# for (and that of the few short commands run meanwhile, a few milliseconds).
reaped_ticks() {
    local stat
    read -r stat <"/proc/$$/stat"
    awk -v s="${stat##*) }" 'BEGIN { split(s, f, " "); print f[14] + f[15] }'
}
# CPU time (clock ticks) the whole machine spent busy so far: everything but idle and iowait.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
clk_tck=$(getconf CLK_TCK)
cpus=$(nproc)

# ---- the built-in origin (one for both phases) ---------------------------------------------
"$rilla" origin --listen 127.0.0.1:0 >"$work/origin.out" 2>"$work/origin.log" &
pids+=($!)
origin_pid=${pids[-1]}
origin_addr=""
for _ in $(seq 1 300); do
    origin_addr=$(sed -n 's|.*origin listening on http://||p' "$work/origin.out" | head -n1)
    [ -n "$origin_addr" ] && break
    kill -0 "$origin_pid" 2>/dev/null || die "rilla origin exited during start-up: $(cat "$work/origin.log")"
    sleep 0.1
done
[ -n "$origin_addr" ] || die "rilla origin printed no address"
# Checked on the origin itself: a playlist through the edge would start a viewer session.
curl -fsS --max-time 5 "http://$origin_addr/live/$stream/master.m3u8" | grep -q '^#EXTM3U' \
    || die "the origin serves no playlist at /live/$stream/master.m3u8"

# ---- one phase: a fresh proxy with POLICY, the swarm through it ----------------------------
declare -A R        # R[phase.key]: the figures of each phase
declare -A samples  # samples[phase]: a few distinct peer errors
failures=()

metric_sum() { # metric_sum FILE NAME [LABEL-MATCH...]: the sum of NAME's matching samples
    local file=$1 name=$2
    shift 2
    awk -v name="$name" -v matches="$*" '
        BEGIN { n = split(matches, m, " ") }
        /^#/ { next }
        index($0, name "{") == 1 || index($0, name " ") == 1 {
            for (i = 1; i <= n; i++) if (index($0, m[i]) == 0) next
            sum += $NF
        }
        END { printf "%.0f\n", sum }' "$file"
}

run_phase() {
    local phase=$1 dir="$work/$1" proxy_port admin_port proxy_pid swarm_pid url
    local p0 p1 o0 o1 m0 m1 s0 s1 t0 t1 rc=0 started next_report elapsed line k v
    mkdir -p "$dir"
    "$rilla" token keygen --out "$dir/keys" >/dev/null
    proxy_port=$(free_port)
    admin_port=$(free_port)
    # The [p2p] limits per IP prefix are raised: every viewer here is 127.0.0.1. The
    # per-viewer limits, holdings and everything else keep their defaults.
    cat >"$dir/rilla.toml" <<EOF
[server]
listen = "127.0.0.1:$proxy_port"
admin_listen = "127.0.0.1:$admin_port"
threads = $proxy_threads
shutdown_grace = "1s"

[tokens]
keys_dir = "keys"

[p2p]
prefix_rate = 100000
prefix_burst = 200000

[[origins]]
name = "main"
url = "http://$origin_addr"

[[routes]]
prefix = "/live/"
origin = "main"
access = "open"
policy = "$phase"
EOF
    "$rilla" config check "$dir/rilla.toml" >/dev/null || die "the generated configuration ($phase) is invalid"
    RUST_LOG=error "$rilla" proxy --config "$dir/rilla.toml" >"$dir/proxy.out" 2>"$dir/proxy.log" &
    pids+=($!)
    proxy_pid=${pids[-1]}
    wait_ready "rilla proxy ($phase)" "http://127.0.0.1:$proxy_port/healthz" "$proxy_pid" "$dir/proxy.log"
    url="http://127.0.0.1:$proxy_port/live/$stream/master.m3u8"

    echo "== ($phase) rilla swarm $url --viewers $viewers --join-rate $join_rate --duration $duration --json   [$(uptime | sed 's/.*load/load/')]"
    p0=$(cpu_ticks "$proxy_pid")
    o0=$(cpu_ticks "$origin_pid")
    m0=$(machine_ticks)
    s0=$(reaped_ticks)
    t0=$(date +%s.%N)
    RUST_LOG=error "$rilla" swarm "$url" --viewers "$viewers" --join-rate "$join_rate" \
        --duration "$duration" --json --progress >"$dir/swarm.json" 2>"$dir/swarm.log" &
    pids+=($!)
    swarm_pid=${pids[-1]}
    started=$SECONDS
    next_report=$((started + 20))
    while kill -0 "$swarm_pid" 2>/dev/null; do
        elapsed=$((SECONDS - started))
        if ! kill -0 "$proxy_pid" 2>/dev/null; then
            tail -n 20 "$dir/proxy.log" >&2 || true
            die "the proxy ($phase) exited during the swarm"
        fi
        kill -0 "$origin_pid" 2>/dev/null || die "the origin exited during the swarm ($phase)"
        if [ "$elapsed" -gt $((duration_s + 120)) ]; then
            tail -n 5 "$dir/swarm.log" >&2 || true
            die "rilla swarm ($phase) overran its $duration by 120 s"
        fi
        if [ "$SECONDS" -ge "$next_report" ]; then
            line=$(grep '^t=' "$dir/swarm.log" | tail -n 1 || true)
            [ -z "$line" ] || echo "   $line"
            next_report=$((next_report + 20))
        fi
        sleep 1
    done
    wait "$swarm_pid" || rc=$?
    forget "$swarm_pid"
    t1=$(date +%s.%N)
    s1=$(reaped_ticks)
    p1=$(cpu_ticks "$proxy_pid")
    o1=$(cpu_ticks "$origin_pid")
    m1=$(machine_ticks)
    curl -fsS --max-time 5 "http://127.0.0.1:$admin_port/metrics" >"$dir/metrics.txt" \
        || die "the proxy ($phase) did not answer /metrics after the swarm"
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    forget "$proxy_pid"

    if [ "$rc" -ne 0 ]; then
        failures+=("($phase) rilla swarm exited with status $rc")
        echo "   !! rilla swarm exited with status $rc; the end of its log:"
        grep -v '^t=' "$dir/swarm.log" | tail -n 10 | sed 's/^/   /' || true
    fi
    # The summary, flattened to key=value lines (python3 reads the JSON).
    python3 - "$dir/swarm.json" >"$dir/summary.txt" <<'PY' || die "($phase) rilla swarm printed no readable summary: $(head -c 300 "$dir/swarm.json")"
import json, sys

s = json.load(open(sys.argv[1]))
peers = s.get("peers") or []


def pct(values, p):
    if not values:
        return 0
    v = sorted(values)
    return v[min(len(v) - 1, round((len(v) - 1) * p))]


out = {k: s.get(k, 0) for k in (
    "viewers", "deflection", "stalls", "stall_ratio", "ttff_ms_p50", "ttff_ms_p95",
    "bytes_peer", "bytes_cdn", "hash_failures", "unverified_played")}
egress = s.get("cdn_egress_per_s") or []
errors = [p["error"] for p in peers if p.get("error")]
out.update(
    summaries=len(peers),
    errors=len(errors),
    never_played=sum(1 for p in peers if p.get("ttff_ms") is None),
    watched_s=sum(p.get("watched_s", 0) for p in peers),
    stalled_viewers=sum(1 for p in peers if p.get("stalls", 0) > 0),
    stall_ms_max=max((p.get("stall_ms", 0) for p in peers), default=0),
    viewer_deflection_min=min((p.get("deflection", 0) for p in peers), default=0),
    viewer_deflection_p10=pct([p.get("deflection", 0) for p in peers], 0.1),
    viewer_deflection_p50=pct([p.get("deflection", 0) for p in peers], 0.5),
    no_peer_bytes=sum(1 for p in peers if p.get("bytes_peer", 0) == 0),
    uploaders=sum(1 for p in peers if p.get("bytes_uploaded", 0) > 0),
    uploaded_p50=pct([p.get("bytes_uploaded", 0) for p in peers], 0.5),
    uploaded_max=max((p.get("bytes_uploaded", 0) for p in peers), default=0),
    peers_used_p50=pct([p.get("peers_used", 0) for p in peers], 0.5),
    segments=sum(p.get("segments", 0) for p in peers),
    segments_from_peers=sum(p.get("segments_from_peers", 0) for p in peers),
    egress_seconds=len(egress),
    egress_peak=max(egress, default=0),
)
out["stall_ratio"] = f"{out['stall_ratio']:.6f}"
out["deflection"] = f"{out['deflection']:.6f}"
for k, v in out.items():
    print(f"{k}={v}")
for e in sorted(set(errors))[:3]:
    print("error_sample=" + " ".join(str(e).split())[:200])
PY
    while IFS='=' read -r k v; do
        if [ "$k" = error_sample ]; then
            samples[$phase]+="      $v"$'\n'
        else
            R[$phase.$k]=$v
        fi
    done <"$dir/summary.txt"

    # CPU: the proxy's, the peers' (the swarm process), the origin's, and the rest of the
    # machine's, in seconds over the phase's wall time.
    read -r R["$phase.wall"] R["$phase.proxy_cpu"] R["$phase.swarm_cpu"] R["$phase.origin_cpu"] \
        R["$phase.busy_cores"] R["$phase.other_cpu"] < <(awk -v hz="$clk_tck" \
        -v t0="$t0" -v t1="$t1" -v p0="$p0" -v p1="$p1" -v s0="$s0" -v s1="$s1" \
        -v o0="$o0" -v o1="$o1" -v m0="$m0" -v m1="$m1" 'BEGIN {
            wall = t1 - t0; p = (p1 - p0) / hz; s = (s1 - s0) / hz; o = (o1 - o0) / hz
            m = (m1 - m0) / hz; other = m - p - s - o; if (other < 0) other = 0
            printf "%.1f %.2f %.2f %.2f %.2f %.2f\n", wall, p, s, o, m / wall, other }')
    # The edge's view: segment bytes it served, P2P decisions, refusals, API answers.
    R[$phase.edge_segment_bytes]=$(metric_sum "$dir/metrics.txt" rilla_segment_bytes_served_total)
    R[$phase.origin_segment_fetches]=$(metric_sum "$dir/metrics.txt" rilla_origin_fetches_total 'kind="segment"')
    R[$phase.api_ok]=$(metric_sum "$dir/metrics.txt" rilla_requests_total 'kind="api"' 'status="200"')
    R[$phase.api_all]=$(metric_sum "$dir/metrics.txt" rilla_requests_total 'kind="api"')
    R[$phase.refusals]=$(metric_sum "$dir/metrics.txt" rilla_p2p_refusals_total)
    R[$phase.decisions]=$(awk '/^rilla_p2p_decisions_total\{/ {
            d = $0; sub(/.*decision="/, "", d); sub(/".*/, "", d); n[d] += $NF }
        END { for (k in n) printf "%s %.0f, ", k, n[k] }' "$dir/metrics.txt" | sed 's/, $//')
    R[$phase.refusal_reasons]=$(awk '/^rilla_p2p_refusals_total\{/ && $NF > 0 {
            d = $0; sub(/.*reason="/, "", d); sub(/".*/, "", d); printf "%s %.0f, ", d, $NF }' \
        "$dir/metrics.txt" | sed 's/, $//')
    if [ -s "$dir/proxy.log" ]; then
        R[$phase.proxy_log_lines]=$(wc -l <"$dir/proxy.log")
    else
        R[$phase.proxy_log_lines]=0
    fi

    echo "   ${R[$phase.summaries]} viewers: deflection $(awk -v d="${R[$phase.deflection]}" 'BEGIN { printf "%.1f%%", d * 100 }')," \
        "stalls ${R[$phase.stalls]}, stall ratio ${R[$phase.stall_ratio]}, TTFF p50 ${R[$phase.ttff_ms_p50]} ms;" \
        "proxy CPU ${R[$phase.proxy_cpu]} s, peers ${R[$phase.swarm_cpu]} s, in ${R[$phase.wall]} s"

    [ "${R[$phase.summaries]}" -eq "$viewers" ] \
        || failures+=("($phase) ${R[$phase.summaries]} viewer summaries, $viewers viewers asked for")
    [ "${R[$phase.hash_failures]}" -eq 0 ] || failures+=("($phase) ${R[$phase.hash_failures]} hash failures")
    [ "${R[$phase.unverified_played]}" -eq 0 ] \
        || failures+=("($phase) ${R[$phase.unverified_played]} segments played unverified")
    [ "${R[$phase.errors]}" -eq 0 ] || failures+=("($phase) ${R[$phase.errors]} viewers stopped on an error")
}

load_before=$(uptime | sed 's/.*load average: //')
for phase in "${phases[@]}"; do
    run_phase "$phase"
done
load_after=$(uptime | sed 's/.*load average: //')
kill -0 "$origin_pid" 2>/dev/null || die "the origin exited during the benchmark"

# ---- report ----------------------------------------------------------------------------------
a=adaptive
c=cdn-only
row() { printf '%-44s %18s %18s\n' "$@"; }
pctf() { awk -v d="$1" 'BEGIN { printf "%.1f%%", d * 100 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
per_vmin() { # proxy CPU ms per viewer-minute watched
    awk -v c="$1" -v w="$2" 'BEGIN { printf "%.1f ms", (w > 0 ? c * 1000 / (w / 60) : 0) }'
}
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "missed"; fi; }

echo
echo "Swarm benchmark: $viewers viewers joining at $join_rate/s for $duration per policy, stream /live/$stream/," \
    "loopback, $cpus CPUs, proxy threads $proxy_threads"
echo "load average before: $load_before; after: $load_after"
row "" "$a" "$c"
row "viewers (summaries / asked)" "${R[$a.summaries]}/$viewers" "${R[$c.summaries]}/$viewers"
row "deflection (peer bytes / all bytes)" "$(pctf "${R[$a.deflection]}")" "$(pctf "${R[$c.deflection]}")"
row "stall ratio (stalled / watched+stalled)" "${R[$a.stall_ratio]}" "${R[$c.stall_ratio]}"
row "stalls (viewers that stalled)" "${R[$a.stalls]} (${R[$a.stalled_viewers]})" "${R[$c.stalls]} (${R[$c.stalled_viewers]})"
row "longest stalled time of a viewer" "${R[$a.stall_ms_max]} ms" "${R[$c.stall_ms_max]} ms"
row "TTFF p50 / p95" "${R[$a.ttff_ms_p50]} / ${R[$a.ttff_ms_p95]} ms" "${R[$c.ttff_ms_p50]} / ${R[$c.ttff_ms_p95]} ms"
row "viewers that never played" "${R[$a.never_played]}" "${R[$c.never_played]}"
row "CDN bytes (swarm's count)" "$(mb "${R[$a.bytes_cdn]}")" "$(mb "${R[$c.bytes_cdn]}")"
row "peer bytes" "$(mb "${R[$a.bytes_peer]}")" "$(mb "${R[$c.bytes_peer]}")"
row "segment bytes served by the edge" "$(mb "${R[$a.edge_segment_bytes]}")" "$(mb "${R[$c.edge_segment_bytes]}")"
row "segments played (from peers)" "${R[$a.segments]} (${R[$a.segments_from_peers]})" "${R[$c.segments]} (${R[$c.segments_from_peers]})"
row "hash failures / unverified played" "${R[$a.hash_failures]} / ${R[$a.unverified_played]}" "${R[$c.hash_failures]} / ${R[$c.unverified_played]}"
row "viewers stopped on an error" "${R[$a.errors]}" "${R[$c.errors]}"
row "viewer deflection min / p10 / p50" \
    "$(pctf "${R[$a.viewer_deflection_min]}") $(pctf "${R[$a.viewer_deflection_p10]}") $(pctf "${R[$a.viewer_deflection_p50]}")" \
    "$(pctf "${R[$c.viewer_deflection_min]}") $(pctf "${R[$c.viewer_deflection_p10]}") $(pctf "${R[$c.viewer_deflection_p50]}")"
row "viewers with no peer bytes" "${R[$a.no_peer_bytes]}" "${R[$c.no_peer_bytes]}"
row "uploaders; upload p50 / max per viewer" "${R[$a.uploaders]}; $(mb "${R[$a.uploaded_p50]}") / $(mb "${R[$a.uploaded_max]}")" \
    "${R[$c.uploaders]}; $(mb "${R[$c.uploaded_p50]}") / $(mb "${R[$c.uploaded_max]}")"
row "viewer-minutes watched" "$(awk -v w="${R[$a.watched_s]}" 'BEGIN { printf "%.1f", w / 60 }')" \
    "$(awk -v w="${R[$c.watched_s]}" 'BEGIN { printf "%.1f", w / 60 }')"
row "proxy CPU" "${R[$a.proxy_cpu]} s" "${R[$c.proxy_cpu]} s"
row "proxy CPU per viewer-minute watched" "$(per_vmin "${R[$a.proxy_cpu]}" "${R[$a.watched_s]}")" \
    "$(per_vmin "${R[$c.proxy_cpu]}" "${R[$c.watched_s]}")"
row "peers' CPU (the swarm process)" "${R[$a.swarm_cpu]} s" "${R[$c.swarm_cpu]} s"
row "origin CPU" "${R[$a.origin_cpu]} s" "${R[$c.origin_cpu]} s"
row "anything else on the machine" "${R[$a.other_cpu]} s" "${R[$c.other_cpu]} s"
row "machine busy (of $cpus cores), wall time" "${R[$a.busy_cores]} in ${R[$a.wall]} s" "${R[$c.busy_cores]} in ${R[$c.wall]} s"
row "P2P API answers (200 / all)" "${R[$a.api_ok]} / ${R[$a.api_all]}" "${R[$c.api_ok]} / ${R[$c.api_all]}"
row "origin segment fetches" "${R[$a.origin_segment_fetches]}" "${R[$c.origin_segment_fetches]}"
echo "edge P2P decisions: ($a) ${R[$a.decisions]:-none}; ($c) ${R[$c.decisions]:-none}"
echo "edge P2P refusals: ($a) ${R[$a.refusals]}${R[$a.refusal_reasons]:+ (${R[$a.refusal_reasons]})};" \
    "($c) ${R[$c.refusals]}${R[$c.refusal_reasons]:+ (${R[$c.refusal_reasons]})}"
for phase in "${phases[@]}"; do
    if [ -n "${samples[$phase]:-}" ]; then
        echo "($phase) peer errors (distinct, at most 3):"
        printf '%s' "${samples[$phase]}"
    fi
    if [ "${R[$phase.proxy_log_lines]}" -gt 0 ]; then
        echo "($phase) the proxy logged ${R[$phase.proxy_log_lines]} error line(s); the first 3:"
        sed -e 's/\x1b\[[0-9;]*m//g' -e 's/rt=[A-Za-z0-9._-]*/rt=TOKEN/g' "$work/$phase/proxy.log" \
            | head -n 3 | cut -c1-300 | sed 's/^/      /'
    fi
done

# CDN egress over time, both runs side by side (seconds from the swarm's start), and the
# steady state after STEADY_AFTER seconds: all viewers joined, start-up buffers filled.
python3 - "$work/$a/swarm.json" "$work/$c/swarm.json" "$steady_after" >"$work/egress.txt" <<'PY'
import json, sys

a = json.load(open(sys.argv[1])).get("cdn_egress_per_s") or []
c = json.load(open(sys.argv[2])).get("cdn_egress_per_s") or []
after = int(sys.argv[3])
n = min(len(a), len(c))
step = 10 if n <= 180 else 30
print(f"CDN egress over time (kB/s, mean of each {step} s; the swarm's own count):")
print(f"   {'seconds':>10} {'adaptive':>10} {'cdn-only':>10} {'ratio':>8}")
for t in range(0, n, step):
    x = sum(a[t:min(t + step, n)]) / len(a[t:min(t + step, n)])
    y = sum(c[t:min(t + step, n)]) / len(c[t:min(t + step, n)])
    r = f"{x / y:.3f}" if y > 0 else "-"
    print(f"   {f'{t}-{min(t + step, n)}':>10} {x / 1e3:>10.0f} {y / 1e3:>10.0f} {r:>8}")
sa, sc = sum(a[after:n]), sum(c[after:n])
print(f"steady_a={sa}")
print(f"steady_c={sc}")
print(f"steady_seconds={max(n - after, 0)}")
PY
grep -v '^steady_' "$work/egress.txt"
steady_a=$(sed -n 's/^steady_a=//p' "$work/egress.txt")
steady_c=$(sed -n 's/^steady_c=//p' "$work/egress.txt")
steady_seconds=$(sed -n 's/^steady_seconds=//p' "$work/egress.txt")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
egress_ratio=$(ratio "${R[$a.bytes_cdn]}" "${R[$c.bytes_cdn]}")
edge_ratio=$(ratio "${R[$a.edge_segment_bytes]}" "${R[$c.edge_segment_bytes]}")
steady_ratio=$(ratio "$steady_a" "$steady_c")
steady_deflection=$(awk -v r="$steady_ratio" 'BEGIN { if (r == "n/a") print "n/a"; else printf "%.4f", 1 - r }')
received_ratio=$(ratio "$(awk -v x="${R[$a.bytes_cdn]}" -v y="${R[$a.bytes_peer]}" 'BEGIN { printf "%.0f", x + y }')" \
    "$(awk -v x="${R[$c.bytes_cdn]}" -v y="${R[$c.bytes_peer]}" 'BEGIN { printf "%.0f", x + y }')")
cpu_ratio=$(ratio "${R[$a.proxy_cpu]}" "${R[$c.proxy_cpu]}")

echo
printf '%-58s %s\n' "CDN egress, adaptive / cdn-only (swarm's count)" "${egress_ratio}x"
printf '%-58s %s\n' "segment bytes served by the edge, adaptive / cdn-only" "${edge_ratio}x"
printf '%-58s %s\n' "CDN egress after ${steady_after} s (${steady_seconds} s), adaptive / cdn-only" "${steady_ratio}x"
printf '%-58s %s\n' "all bytes received, adaptive / cdn-only (rendition mix)" "${received_ratio}x"
printf '%-58s %s\n' "proxy CPU, adaptive / cdn-only" "${cpu_ratio}x"
printf '%-58s %-10s target >= 90%%: %s\n' "deflection (adaptive, whole run)" "$(pctf "${R[$a.deflection]}")" \
    "$(verdict "${R[$a.deflection]} >= 0.9")"
if [ "$steady_deflection" != n/a ]; then
    printf '%-58s %-10s target >= 90%%: %s\n' "steady-state deflection (1 - CDN egress ratio after ${steady_after} s)" \
        "$(pctf "$steady_deflection")" "$(verdict "$steady_deflection >= 0.9")"
fi
printf '%-58s %-10s target <= %s: %s\n' "stall ratio (adaptive; cdn-only beside the target)" "${R[$a.stall_ratio]}" \
    "${R[$c.stall_ratio]}" "$(verdict "${R[$a.stall_ratio]} <= ${R[$c.stall_ratio]}")"
for phase in "${phases[@]}"; do
    # The peers run on the same cores: when the machine is near full, stalls and TTFF also
    # measure the competition for CPU, not the edge alone.
    if awk -v b="${R[$phase.busy_cores]}" -v n="$cpus" 'BEGIN { exit !(b >= 0.85 * n) }'; then
        echo "note ($phase): the machine was busy ${R[$phase.busy_cores]} of $cpus cores on average over" \
            "${R[$phase.wall]} s (proxy ${R[$phase.proxy_cpu]} s, peers ${R[$phase.swarm_cpu]} s, origin" \
            "${R[$phase.origin_cpu]} s, anything else ${R[$phase.other_cpu]} s of CPU): the proxy competed for the cores."
    fi
done

if ((${#failures[@]})); then
    echo
    for f in "${failures[@]}"; do
        echo "FAILED: $f" >&2
    done
    exit 1
fi
