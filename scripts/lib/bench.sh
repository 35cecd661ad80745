# shellcheck shell=bash
# What the benchmarks in bench/ share: a work directory and the processes started in it,
# both cleaned up on exit; free loopback ports; waiting until a server answers.
# Sourced by bench/*.sh after they define `die`.

# Makes the work directory $work (named after $1) and the list $pids of processes to stop.
# On exit, the processes are stopped and $work is removed, unless $keep_work is set to
# something other than 0 (then its path is printed).
bench_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${keep_work:-0}" != 0 ]; then
        echo "$(basename "$0"): kept $work" >&2
    else
        rm -rf "$work"
    fi
}

# A loopback port nothing listens on (checked just before use; the window is small).
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free loopback port after $tries tries"
}

# Waits until URL answers 200, or fails naming WHAT when PID exits or 30 s pass.
wait_ready() {
    local what=$1 url=$2 pid=$3 log=$4 i
    for i in $(seq 1 300); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "-- $log:" >&2
            tail -n 20 "$log" >&2 || true
            die "$what exited during start-up"
        fi
        sleep 0.1
    done
    echo "-- $log:" >&2
    tail -n 20 "$log" >&2 || true
    die "$what did not answer $url within $((i / 10)) s"
}
