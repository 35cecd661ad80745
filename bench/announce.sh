#!/usr/bin/env bash
# Announce load benchmark: the P2P API's POST /p2p/v1/announce against the cheapest
# request the edge answers (GET /healthz), on the same proxy, on loopback only.
#
# Builds `rilla` (release), installs wrk and curl from Debian's packages if missing, starts
# `rilla origin` and `rilla proxy` (route policy "adaptive", P2P rate limits raised so that
# nothing is throttled) on free loopback ports, and makes VIEWERS real viewer sessions:
# each fetches the media playlist /live/demo/v180/index.m3u8 through the edge (a new
# session: viewer id, swarm id, token) and then 5 of its 6 segments through the edge, so
# the swarm index holds 5 segments per viewer. Then three wrk runs with the same threads,
# connections and duration:
#
#   (h) GET /healthz, the baseline;
#   (a) announces without hints: 5 gained segments (2 of them from a peer), 5 dropped,
#       byte counters, "want": [] (10 segment ids per announce; the criterion bench
#       `announce/10_segment_delta` in swarm/benches/orchestration.rs gains 10 and drops
#       10, but a viewer can only claim segments the edge served or hinted to it, and a
#       playlist lists 6);
#   (b) the same announces with "want" naming 3 segments, so the planner answers hints:
#       one segment the viewer lacks and others hold (peers), two not yet published
#       (seed or CDN).
#
# wrk rotates over the viewers (bench/announce.lua). Every announce is one the edge must
# accept: the script fails when any response is not 2xx, when the edge refused any gained
# segment or rate-limited any request, or when the proxy's counter of answered API requests
# (rilla_requests_total{kind="api",status="200"}) did not grow by wrk's count of
# announces (plus at most one per connection, the requests in flight when wrk stops). It
# never fails because the target is missed: the figures depend on the machine and on what
# else runs on it (wrk shares the CPUs with the proxy), so read them with the load average
# and the CPU figures printed.
#
# Settings (environment): DURATION (10s), THREADS (2, wrk's), CONNECTIONS (64),
# VIEWERS (1000; one viewer may announce at most 1000 times a second, `viewer_rate`'s
# maximum, after a burst of 10000, so keep it above the announces per second / 1000),
# PROXY_THREADS (2, the proxy's `[server] threads`), RILLA_BIN (a `rilla` binary to use
# instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/install.sh
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/bench.sh

duration=${DURATION:-10s}
threads=${THREADS:-2}
connections=${CONNECTIONS:-64}
viewers=${VIEWERS:-1000}
proxy_threads=${PROXY_THREADS:-2}
target=50000
stream_path=/live/demo/v180/index.m3u8

die() {
    echo "announce.sh: $*" >&2
    exit 1
}

if ! [[ $viewers =~ ^[0-9]+$ ]] || [ "$viewers" -lt 10 ]; then
    die "VIEWERS must be a number >= 10"
fi

# ---- tools -------------------------------------------------------------------------------
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
if [ -n "${RILLA_BIN:-}" ]; then
    rilla=$(realpath "$RILLA_BIN")
    [ -x "$rilla" ] || die "RILLA_BIN=$RILLA_BIN is not an executable"
else
    install_build_tools
    echo "== cargo build --release --locked -p rilla-proxy --bin rilla"
    cargo build --release --locked -p rilla-proxy --bin rilla
    rilla=$PWD/target/release/rilla
fi
lua_script=$PWD/bench/announce.lua

# ---- clean-up of everything started here ---------------------------------------------------
bench_workdir rilla-announce


# ---- the built-in origin -------------------------------------------------------------------
"$rilla" origin --listen 127.0.0.1:0 >"$work/origin.out" 2>"$work/origin.log" &
pids+=($!)
origin_addr=""
for _ in $(seq 1 300); do
    origin_addr=$(sed -n 's|.*origin listening on http://||p' "$work/origin.out" | head -n1)
    [ -n "$origin_addr" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || die "rilla origin exited during start-up: $(cat "$work/origin.log")"
    sleep 0.1
done
[ -n "$origin_addr" ] || die "rilla origin printed no address"

# ---- the edge proxy ------------------------------------------------------------------------
# Rate limits at their maxima, so that no announce is throttled. Tokens, holdings and
# viewers outlive the whole benchmark, so that the viewers made before the runs are still
# known (with all their holdings) when the last run ends.
mkdir -p "$work/proxy"
"$rilla" token keygen --out "$work/proxy/keys" >/dev/null
proxy_port=$(free_port)
admin_port=$(free_port)
cat >"$work/proxy/rilla.toml" <<EOF
[server]
listen = "127.0.0.1:$proxy_port"
admin_listen = "127.0.0.1:$admin_port"
threads = $proxy_threads
shutdown_grace = "1s"

[tokens]
keys_dir = "keys"
ttl = "1h"

[holdings]
ttl = "1h"
viewer_ttl = "1h"

[p2p]
viewer_rate = 1000
viewer_burst = 10000
prefix_rate = 1000000
prefix_burst = 10000000

[[origins]]
name = "main"
url = "http://$origin_addr"

[[routes]]
prefix = "/live/"
origin = "main"
access = "open"
policy = "adaptive"
EOF
"$rilla" config check "$work/proxy/rilla.toml" >/dev/null || die "the generated configuration is invalid"
RUST_LOG=error "$rilla" proxy --config "$work/proxy/rilla.toml" \
    >"$work/proxy/stdout.log" 2>"$work/proxy/stderr.log" &
pids+=($!)
proxy_pid=${pids[-1]}
proxy_url="http://127.0.0.1:$proxy_port"
admin_url="http://127.0.0.1:$admin_port"
wait_ready "rilla proxy" "$proxy_url/healthz" "$proxy_pid" "$work/proxy/stderr.log"

metrics() { curl -fsS --max-time 5 "$admin_url/metrics"; }
# metric NAME [LABEL-MATCH...]: the sum of NAME's samples whose labels contain every match.
metric() {
    local name=$1
    shift
    metrics | awk -v name="$name" -v matches="$*" '
        BEGIN { n = split(matches, m, " ") }
        /^#/ { next }
        index($0, name "{") == 1 || index($0, name " ") == 1 {
            for (i = 1; i <= n; i++) if (index($0, m[i]) == 0) next
            sum += $NF
        }
        END { printf "%.0f\n", sum }'
}

# ---- viewers -------------------------------------------------------------------------------
# One curl process fetches every playlist, over one kept-alive connection: each fetch
# without a token starts a new viewer session.
echo "== making $viewers viewers: GET $stream_path, then 5 segments each, through the edge"
setup_started=$(date +%s.%N)
mkdir -p "$work/playlists"
for i in $(seq 1 "$viewers"); do
    printf 'url = "%s%s"\noutput = "%s/playlists/%06d.m3u8"\n' \
        "$proxy_url" "$stream_path" "$work" "$i"
done >"$work/playlists.curl"
curl -sS -K "$work/playlists.curl" -w '%{http_code}\n' >"$work/playlists.status" \
    || die "fetching the playlists failed"
bad=$(grep -vc '^200$' "$work/playlists.status" || true)
[ "$bad" -eq 0 ] || die "$bad playlist request(s) did not answer 200: $(sort "$work/playlists.status" | uniq -c | tr '\n' ' ')"

# From each playlist: the session tag's viewer and swarm ids, the segments (number and
# signed URI) and the token. Viewer k skips one of the three newest segments (k mod 3), so
# that each segment is held by two thirds of the viewers and lacked by the others; it
# fetches the other five. Bodies:
#   column 2: gained the 5 fetched (the 2 oldest "from" another viewer), dropped the 5
#             numbers before the window, byte counters, "want": [];
#   column 3: the same with "want": [the skipped segment, newest + 1, newest + 2].
playlist_dir="$proxy_url${stream_path%/*}/"
# shellcheck disable=SC2016
awk -v base="$playlist_dir" -v fetch="$work/segments.curl" -v out="$work/viewers.tsv" '
    function flush(   i, n, first, miss) {
        if (file == "") return
        if (viewer == "" || swarm == "" || token == "" || nseg < 6) {
            printf "announce.sh: %s: viewer \"%s\", swarm \"%s\", %d segments, token %s\n",
                file, viewer, swarm, nseg, (token == "" ? "missing" : "found") > "/dev/stderr"
            failed = 1
            return
        }
        count++
        ids[count] = viewer; swarms[count] = swarm; tokens[count] = token
        first = nseg - 5            # the 6 newest: first .. nseg
        miss = nseg - ((count - 1) % 3)
        n = 0
        for (i = first; i <= nseg; i++) {
            if (i == miss) continue
            printf "url = \"%s\"\noutput = \"/dev/null\"\n", uri[i] > fetch
            n++; held[count, n] = num[i]
        }
        missing[count] = num[miss]; newest[count] = num[nseg]
    }
    FNR == 1 { flush(); file = FILENAME; viewer = ""; swarm = ""; token = ""; nseg = 0 }
    /^#EXT-X-RILLA-SESSION:/ {
        if (match($0, /VIEWER="[^"]*"/)) viewer = substr($0, RSTART + 8, RLENGTH - 9)
        if (match($0, /SWARM="[^"]*"/)) swarm = substr($0, RSTART + 7, RLENGTH - 8)
        next
    }
    /^[^#]/ && /seg-[0-9]+\.m4s/ {
        nseg++
        uri[nseg] = ($0 ~ /^https?:/) ? $0 : base $0
        match($0, /seg-[0-9]+\.m4s/); num[nseg] = substr($0, RSTART + 4, RLENGTH - 8) + 0
        if (token == "" && match($0, /[?&]rt=[^&]+/)) token = substr($0, RSTART + 4, RLENGTH - 4)
    }
    END {
        flush()
        if (failed || count == 0) exit 1
        for (k = 1; k <= count; k++) {
            # A peer with the same skipped segment (k + 3), hence holding the same five.
            peer = ids[((k + 2) % count) + 1]
            gained = ""
            for (g = 1; g <= 5; g++) {
                gained = gained (g > 1 ? "," : "") "{\"seg\":" held[k, g]
                if (g <= 2) gained = gained ",\"from\":\"" peer "\""
                gained = gained ",\"bytes\":62500,\"ms\":" (80 + g * 10) "}"
            }
            dropped = ""
            for (g = 10; g >= 6; g--) dropped = dropped (g < 10 ? "," : "") (held[k, 1] - g + 5)
            common = "{\"swarm\":\"" swarms[k] "\",\"port\":" (40000 + k % 20000) \
                ",\"upload_kbps\":20000,\"buffer_ms\":12000,\"gained\":[" gained "]" \
                ",\"dropped\":[" dropped "],\"bytes\":{\"cdn\":187500,\"peer\":125000,\"uploaded\":250000}"
            want = missing[k] "," (newest[k] + 1) "," (newest[k] + 2)
            printf "%s\t%s,\"want\":[]}\t%s,\"want\":[%s]}\n", tokens[k], common, common, want > out
        }
    }' "$work"/playlists/*.m3u8 || die "could not read the viewers' sessions from their playlists"

curl -sS -K "$work/segments.curl" -w '%{http_code}\n' >"$work/segments.status" \
    || die "fetching the segments failed"
bad=$(grep -vc '^200$' "$work/segments.status" || true)
[ "$bad" -eq 0 ] || die "$bad segment request(s) did not answer 200: $(sort "$work/segments.status" | uniq -c | tr '\n' ' ')"
setup_secs=$(awk -v a="$setup_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
swarm_count=$(cut -f2 "$work/viewers.tsv" | sed 's/.*"swarm":"\([^"]*\)".*/\1/' | sort -u | wc -l)
# The edge's gauges are refreshed every few seconds.
for _ in $(seq 1 50); do
    [ "$(metric rilla_viewers)" -ge "$viewers" ] && break
    sleep 0.2
done
echo "   $(wc -l <"$work/viewers.tsv") viewers in $swarm_count swarm(s), $(wc -l <"$work/segments.status") segments served, in $setup_secs s;" \
    "the edge counts $(metric rilla_viewers) viewers, $(metric rilla_holdings) holdings"

# One announce of each kind by hand: both must be accepted whole.
announce_once() { # announce_once COLUMN
    local token body
    token=$(head -n1 "$work/viewers.tsv" | cut -f1)
    body=$(head -n1 "$work/viewers.tsv" | cut -f"$1")
    curl -sS --max-time 5 -w '\n%{http_code}' -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' --data-binary "$body" "$proxy_url/p2p/v1/announce"
}
for column in 2 3; do
    reply=$(announce_once "$column")
    status=${reply##*$'\n'}
    reply=${reply%$'\n'*}
    echo "   sample announce (column $column): $status $reply" | cut -c1-400
    [ "$status" = 200 ] || die "the sample announce was answered $status"
    grep -q '"refused":\[\]' <<<"$reply" || die "the edge refused gained segments: $reply"
done

# ---- measurements --------------------------------------------------------------------------
# wrk's latency as milliseconds ("512.00us", "1.23ms", "1.05s", "2.00m").
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}
# CPU time (clock ticks, user + system) used so far by PID.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time (clock ticks) the whole machine spent busy so far: everything but idle and iowait.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
clk_tck=$(getconf CLK_TCK)

declare -A rps p50 p99 requests secs non2xx sockerr proxy_us proxy_cores wrk_cores other_cores api_delta
failures=()
measure() { # measure KEY LABEL URL [BODY-COLUMN]: with a column, announces from the viewer file
    local key=$1 label=$2 url=$3 out cpu0 cpu1 all0 all1 api0 api1 wrk_cpu script=()
    if [ -n "${4:-}" ]; then
        script=(-s "$lua_script" "$url" -- "$work/viewers.tsv" "$4")
    else
        script=("$url")
    fi
    out="$work/wrk-$key.txt"
    echo "== ($key) $label: wrk -t$threads -c$connections -d$duration --latency ${script[*]}   [$(uptime | sed 's/.*load/load/')]"
    api0=$(metric rilla_requests_total 'kind="api"' 'status="200"')
    cpu0=$(cpu_ticks "$proxy_pid")
    all0=$(machine_ticks)
    # wrk's own CPU time (user, system seconds): it shares the machine with the proxy.
    wrk_cpu=$( { TIMEFORMAT='%U %S'; time wrk -t"$threads" -c"$connections" -d"$duration" --latency \
        "${script[@]}" >"$out" 2>&1; } 2>&1 ) || { cat "$out" >&2; die "wrk failed for ($key)"; }
    cpu1=$(cpu_ticks "$proxy_pid")
    all1=$(machine_ticks)
    sleep 0.5 # the requests in flight when wrk stopped
    api1=$(metric rilla_requests_total 'kind="api"' 'status="200"')
    rps[$key]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    [ -n "${rps[$key]}" ] || { cat "$out" >&2; die "no Requests/sec in wrk's output for ($key)"; }
    p50[$key]=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' "$out")")
    p99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")")
    read -r requests["$key"] secs["$key"] < <(awk '/ requests in / {
        d = $4 + 0; if ($4 ~ /ms,$/) d /= 1000; else if ($4 ~ /m,$/) d *= 60; print $1, d }' "$out")
    non2xx[$key]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    non2xx[$key]=${non2xx[$key]:-0}
    sockerr[$key]=$(sed -n 's/^ *Socket errors: *//p' "$out")
    # Cores busy over the run: the proxy, wrk, and everything else on the machine (other
    # processes, interrupts), which takes CPU from both.
    read -r proxy_us["$key"] proxy_cores["$key"] wrk_cores["$key"] other_cores["$key"] < <(awk \
        -v t0="$cpu0" -v t1="$cpu1" -v a0="$all0" -v a1="$all1" -v hz="$clk_tck" \
        -v n="${requests[$key]}" -v d="${secs[$key]}" -v w="$wrk_cpu" 'BEGIN {
            s = (t1 - t0) / hz; split(w, u, " "); ws = u[1] + u[2]; other = (a1 - a0) / hz - s - ws
            if (d <= 0) d = 1; if (other < 0) other = 0
            printf "%.1f %.2f %.2f %.2f\n", (n > 0 ? s * 1e6 / n : 0), s / d, ws / d, other / d }')
    api_delta[$key]=$((api1 - api0))
    sed -n '/^ *[0-9]* requests in/p' "$out" | sed 's/^ */   /'
    echo "   proxy CPU: ${proxy_us[$key]} µs per request, ${proxy_cores[$key]} cores busy; wrk: ${wrk_cores[$key]} cores; anything else: ${other_cores[$key]} cores"
    if [ "${non2xx[$key]}" -ne 0 ]; then
        failures+=("($key) ${non2xx[$key]} responses were not 2xx")
        echo "   !! ${non2xx[$key]} responses were not 2xx"
    fi
    if [ -n "${sockerr[$key]}" ]; then
        echo "   !! socket errors: ${sockerr[$key]}"
        failures+=("($key) socket errors: ${sockerr[$key]}")
    fi
}

refusals0=$(metric rilla_p2p_refusals_total)
holdings_refused0=$(metric rilla_holdings_refused_total)
load_before=$(uptime | sed 's/.*load average: //')
measure h "baseline GET /healthz" "$proxy_url/healthz"
measure a "announce, no hints (want: [])" "$proxy_url/p2p/v1/announce" 2
measure b "announce with 3 hints" "$proxy_url/p2p/v1/announce" 3
load_after=$(uptime | sed 's/.*load average: //')
kill -0 "$proxy_pid" 2>/dev/null || die "the proxy exited during the benchmark"

# Every announce counted as answered (200), and nothing else: wrk counts the responses it
# read; the proxy also answered the requests in flight when wrk stopped (at most one per
# connection).
for key in a b; do
    extra=$((api_delta[$key] - requests[$key]))
    if [ "$extra" -lt 0 ] || [ "$extra" -gt "$connections" ]; then
        failures+=("($key) rilla_requests_total{kind=\"api\",status=\"200\"} grew by ${api_delta[$key]}, wrk counted ${requests[$key]} announces")
    fi
done
refusals=$(($(metric rilla_p2p_refusals_total) - refusals0))
holdings_refused=$(($(metric rilla_holdings_refused_total) - holdings_refused0))
api_other=$(metrics | grep '^rilla_requests_total{' | grep 'kind="api"' | grep -v 'status="200"' || true)
[ "$refusals" -eq 0 ] || failures+=("the edge counted $refusals P2P refusals: $(metrics | grep '^rilla_p2p_refusals_total' | tr '\n' ' ')")
[ "$holdings_refused" -eq 0 ] || failures+=("the edge refused $holdings_refused holdings")
[ -z "$api_other" ] || failures+=("API answers other than 200: $(tr '\n' ' ' <<<"$api_other")")

# ---- report ----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "missed"; fi; }

echo
echo "Announce benchmark: wrk -t$threads -c$connections -d$duration, loopback, $(nproc) CPUs," \
    "proxy threads $proxy_threads, $viewers viewers"
echo "load average before: $load_before; after: $load_after"
printf '%-32s %9s %8s %8s %8s %13s %12s %10s %12s\n' "" "req/s" "p50 ms" "p99 ms" "non-2xx" \
    "proxy µs/req" "proxy cores" "wrk cores" "other cores"
for key in h a b; do
    case $key in
        h) label="(h) GET /healthz (baseline)" ;;
        a) label="(a) announce, no hints" ;;
        b) label="(b) announce, 3 hints" ;;
    esac
    printf '%-32s %9.0f %8.3f %8.3f %8s %13.1f %12.2f %10.2f %12.2f\n' "$label" "${rps[$key]}" \
        "${p50[$key]}" "${p99[$key]}" "${non2xx[$key]}" "${proxy_us[$key]}" \
        "${proxy_cores[$key]}" "${wrk_cores[$key]}" "${other_cores[$key]}"
done
echo
for key in a b; do
    printf '(%s)/(h) throughput %26sx   announces/s target >= %d: %s\n' "$key" \
        "$(ratio "${rps[$key]}" "${rps[h]}")" "$target" "$(verdict "${rps[$key]} >= $target")"
done
for key in a b; do
    echo "($key) wrk counted ${requests[$key]} announces; rilla_requests_total{kind=\"api\",status=\"200\"} grew by ${api_delta[$key]}"
done
echo "P2P refusals during the runs: $refusals; holdings refused: $holdings_refused"
echo
echo "proxy /metrics after the runs (viewers, holdings, P2P decisions and hint outcomes):"
metrics | grep -E '^rilla_(viewers|holdings|swarms|p2p_decisions_total|p2p_hint_outcomes_total)[{ ]' \
    | sed 's/^/   /' || true
if [ -s "$work/proxy/stderr.log" ]; then
    echo
    echo "proxy error log, $(wc -l <"$work/proxy/stderr.log") line(s); the first 5:"
    sed -e 's/\x1b\[[0-9;]*m//g' -e 's/rt=[A-Za-z0-9._-]*/rt=TOKEN/g' "$work/proxy/stderr.log" \
        | head -n 5 | cut -c1-300 | sed 's/^/   /'
fi

if ((${#failures[@]})); then
    echo
    for f in "${failures[@]}"; do
        echo "FAILED: $f" >&2
    done
    exit 1
fi
