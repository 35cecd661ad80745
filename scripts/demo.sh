#!/usr/bin/env bash
# The main job: builds `rilla` and runs the demo, a built-in origin with a live HLS and DASH
# stream and the edge proxy in front of it. Prints the URLs to play and a status line every
# few seconds; Ctrl-C stops it. Extra arguments go to `rilla demo` (e.g. --listen ADDR).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh

install_build_tools
cargo build --release --bin rilla --locked
exec target/release/rilla demo "$@"
