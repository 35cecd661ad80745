#!/usr/bin/env bash
# Serving benchmark: the edge proxy against nginx, on loopback only.
#
#   (a) a cached 1 MiB segment through `rilla proxy` (its origin is nginx, fetched once);
#   (b) the same file straight from nginx;
#   (c) personalized HLS media playlists through `rilla proxy` (the built-in origin behind
#       it; every response is signed for the viewer, so none can come from a shared cache).
#
# Builds `rilla` (release), installs nginx, wrk and curl from Debian's packages if missing,
# starts everything on free loopback ports, runs wrk against each, prints req/s, p50 and
# p99 with the targets beside them, and stops what it started. It exits non-zero only when
# something fails to build or start, never because a target is missed: the figures depend
# on the machine and on what else runs on it, so read them with the load average printed.
#
# Settings (environment): DURATION (20s), CONNECTIONS (64), WRK_THREADS (2),
# PROXY_THREADS (2, the proxy's `[server] threads`), NGINX_WORKERS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/install.sh
# shellcheck source-path=SCRIPTDIR/.. disable=SC1091
source scripts/lib/bench.sh

duration=${DURATION:-20s}
connections=${CONNECTIONS:-64}
wrk_threads=${WRK_THREADS:-2}
proxy_threads=${PROXY_THREADS:-2}
nginx_workers=${NGINX_WORKERS:-2}
segment_bytes=1048576

die() {
    echo "serve.sh: $*" >&2
    exit 1
}

# ---- tools -------------------------------------------------------------------------------
install_build_tools
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ]; then
    nginx_bin=/usr/sbin/nginx
fi
if [ -z "$nginx_bin" ]; then
    apt_install nginx
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
fi
[ -x "$nginx_bin" ] || die "nginx is not installed"

echo "== cargo build --release --locked --bin rilla"
cargo build --release --locked --bin rilla
rilla=$PWD/target/release/rilla

# ---- clean-up of everything started here ---------------------------------------------------
bench_workdir rilla-bench


# ---- the 1 MiB segment and nginx -----------------------------------------------------------
mkdir -p "$work/www/bench" "$work/nginx/tmp"
head -c "$segment_bytes" /dev/urandom >"$work/www/bench/seg-1mb.m4s"

nginx_port=$(free_port)
nginx_user=""
if [ "$(id -u)" -eq 0 ]; then
    # The master runs as root here; keep the workers as the same user, who owns $work.
    nginx_user="user $(id -un) $(id -gn);"
fi
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
$nginx_user
worker_processes $nginx_workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events {
    worker_connections 4096;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    types {
        video/iso.segment m4s;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
    >"$work/nginx/stdout.log" 2>&1 &
pids+=($!)
nginx_pid=${pids[-1]}
nginx_url="http://127.0.0.1:$nginx_port"
wait_ready nginx "$nginx_url/bench/seg-1mb.m4s" "$nginx_pid" "$work/nginx/error.log"

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
ttl = "10m"

[[origins]]
name = "main"
url = "http://$origin_addr"

[[origins]]
name = "nginx"
url = "$nginx_url"

[[routes]]
prefix = "/live/"
origin = "main"

[[routes]]
prefix = "/bench/"
origin = "nginx"
EOF
"$rilla" config check "$work/proxy/rilla.toml" >/dev/null || die "the generated configuration is invalid"
RUST_LOG=error "$rilla" proxy --config "$work/proxy/rilla.toml" \
    >"$work/proxy/stdout.log" 2>"$work/proxy/stderr.log" &
pids+=($!)
proxy_pid=${pids[-1]}
proxy_url="http://127.0.0.1:$proxy_port"
admin_url="http://127.0.0.1:$admin_port"
wait_ready "rilla proxy" "$proxy_url/healthz" "$proxy_pid" "$work/proxy/stderr.log"

sign() {
    "$rilla" token sign --keys "$work/proxy/keys" --sub bench-viewer --scope "$1" --ttl 10m
}
segment_token=$(sign /bench/)
manifest_token=$(sign /live/ch1/)
url_a="$proxy_url/bench/seg-1mb.m4s?rt=$segment_token"
url_b="$nginx_url/bench/seg-1mb.m4s"
url_c="$proxy_url/live/ch1/v180/index.m3u8?rt=$manifest_token"

# Warm-up: the proxy fetches the segment from nginx once and caches it; every URL must
# answer 200 with the expected body before anything is measured.
for url in "$url_a" "$url_b"; do
    size=$(curl -fsS -o /dev/null -w '%{size_download}' "$url") || die "GET $url failed"
    [ "$size" -eq "$segment_bytes" ] || die "GET $url: $size bytes, expected $segment_bytes"
done
curl -fsS "$url_c" | grep -q '^#EXTM3U' || die "GET $url_c: not a playlist"

# ---- measurements --------------------------------------------------------------------------
# wrk's latency as milliseconds ("512.00us", "1.23ms", "1.05s", "2.00m").
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# CPU time (clock ticks, user + system) used so far by PID and its direct children (nginx's
# workers). With other work on the machine, CPU per request is steadier than req/s.
cpu_ticks() {
    awk -v p="$1" '$1 == p || $4 == p { t += $14 + $15 } END { print t + 0 }' \
        /proc/[0-9]*/stat 2>/dev/null
}
clk_tck=$(getconf CLK_TCK)

declare -A rps p50 p99 notes logged cpu_us cores
log_lines() { wc -l <"$work/proxy/stderr.log"; }
measure() {
    local key=$1 url=$2 server=$3 out before cpu_before
    out="$work/wrk-$key.txt"
    before=$(log_lines)
    cpu_before=$(cpu_ticks "$server")
    echo "== ($key) wrk -t$wrk_threads -c$connections -d$duration --latency ${url%%\?*}   [$(uptime | sed 's/.*load/load/')]"
    wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "$url" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk failed for ($key)"; }
    rps[$key]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50[$key]=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' "$out")")
    p99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")")
    [ -n "${rps[$key]}" ] || { cat "$out" >&2; die "no Requests/sec in wrk's output for ($key)"; }
    # Server CPU per request (µs) and cores busy, from the request count and run time.
    read -r cpu_us["$key"] cores["$key"] < <(
        awk -v t0="$cpu_before" -v t1="$(cpu_ticks "$server")" -v hz="$clk_tck" '
            / requests in / { n = $1; d = $4 + 0; if ($4 ~ /ms,$/) d /= 1000; if ($4 ~ /m,$/) d *= 60 }
            END { s = (t1 - t0) / hz; printf "%.1f %.2f\n", (n > 0 ? s * 1e6 / n : 0), (d > 0 ? s / d : 0) }' \
            "$out"
    )
    notes[$key]=$(grep -E '^ *(Non-2xx|Socket errors)' "$out" | sed 's/^ *//' | paste -sd';' - || true)
    sleep 1 # let the proxy log what the end of the run cut short
    logged[$key]=$(($(log_lines) - before))
    sed -n '/^ *[0-9]* requests in/p' "$out" | sed 's/^ */   /'
    echo "   server CPU: ${cpu_us[$key]} µs per request, ${cores[$key]} cores busy"
    if [ "${logged[$key]}" -gt 0 ]; then
        echo "   proxy logged ${logged[$key]} error line(s) during this run (see below)"
    fi
    if [ -n "${notes[$key]}" ]; then
        echo "   !! ${notes[$key]}"
    fi
}

load_before=$(uptime | sed 's/.*load average: //')
measure a "$url_a" "$proxy_pid"
measure b "$url_b" "$nginx_pid"
measure c "$url_c" "$proxy_pid"
load_after=$(uptime | sed 's/.*load average: //')

kill -0 "$proxy_pid" 2>/dev/null || die "the proxy exited during the benchmark"

# ---- report ----------------------------------------------------------------------------------
ratio=$(awk -v a="${rps[a]}" -v b="${rps[b]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
p99_diff=$(awk -v a="${p99[a]}" -v b="${p99[b]}" 'BEGIN { printf "%+.3f", a - b }')
verdict() { # verdict EXPR-IS-TRUE
    if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "missed"; fi
}

echo
echo "Serving benchmark: wrk -t$wrk_threads -c$connections -d$duration, loopback, $(nproc) CPUs"
echo "load average before: $load_before; after: $load_after"
printf '%-40s %12s %10s %10s %14s\n' "" "req/s" "p50 ms" "p99 ms" "server µs/req"
printf '%-40s %12.0f %10.3f %10.3f %14.1f\n' \
    "(a) proxy, cached 1 MiB segment" "${rps[a]}" "${p50[a]}" "${p99[a]}" "${cpu_us[a]}" \
    "(b) nginx, same 1 MiB file" "${rps[b]}" "${p50[b]}" "${p99[b]}" "${cpu_us[b]}" \
    "(c) proxy, personalized HLS playlist" "${rps[c]}" "${p50[c]}" "${p99[c]}" "${cpu_us[c]}"
echo
printf '%-40s %12s   target >= 0.90x: %s\n' "(a)/(b) throughput" "${ratio}x" \
    "$(verdict "${ratio} >= 0.9")"
printf '%-40s %12s   target <= +1 ms: %s\n' "(a)-(b) p99" "${p99_diff} ms" \
    "$(verdict "${p99_diff} <= 1")"
printf '%-40s %12.0f   target >= 20000/s: %s\n' "(c) manifests/s" "${rps[c]}" \
    "$(verdict "${rps[c]} >= 20000")"
for key in a b c; do
    if [ -n "${notes[$key]}" ]; then
        echo "($key) wrk reported: ${notes[$key]}"
    fi
done

# What the proxy saw: errors it logged (colours and tokens removed, grouped by cause),
# and its request counters by status. wrk closes its connections mid-response when a run
# ends, so a few "Broken pipe" write errors per run are expected.
if [ -s "$work/proxy/stderr.log" ]; then
    echo
    echo "proxy error log, $(log_lines) line(s), by cause:"
    sed -e 's/\x1b\[[0-9;]*m//g' -e 's/rt=[A-Za-z0-9._-]*/rt=TOKEN/g' "$work/proxy/stderr.log" \
        >"$work/proxy/errors.txt"
    sed -E -n 's/.*(cause: [^,]*|ERROR [^ ]* ?[^,]{0,80}).*/\1/p' "$work/proxy/errors.txt" \
        | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/   /'
    echo "   first line: $(head -n 1 "$work/proxy/errors.txt" | cut -c1-300)"
fi
if metrics=$(curl -fsS --max-time 5 "$admin_url/metrics"); then
    echo
    echo "proxy /metrics (requests, origin fetches, cache lookups, token rejections):"
    grep -E '^rilla_(requests|origin_fetches|cache_lookups|token_rejections)_total[{ ]' \
        <<<"$metrics" | head -n 40 | sed 's/^/   /' || true
fi
