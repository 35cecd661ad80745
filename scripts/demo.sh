#!/usr/bin/env bash
# The main job: builds `rilla`, makes a signing key, and personalizes a live HLS playlist
# and a live DASH MPD for one viewer, printing both, then checks one signed URI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh

install_build_tools
cargo build --release --bin rilla --locked
rilla=target/release/rilla
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$rilla" token keygen --out "$work/keys" >/dev/null
echo "== HLS media playlist, personalized for viewer-1 with hints (docs/manifest-tags.md)"
"$rilla" manifest rewrite --keys "$work/keys" --viewer viewer-1 \
    --url https://edge.example/live/ch1/video/index.m3u8 \
    --hints examples/hints.json examples/live.m3u8 | tee "$work/out.m3u8"
echo
echo "== DASH MPD, personalized for viewer-1"
"$rilla" manifest rewrite --keys "$work/keys" --viewer viewer-1 \
    --url https://edge.example/live/ch1/manifest.mpd examples/live.mpd
echo
uri=$(grep -m1 '^seg' "$work/out.m3u8")
echo "== rilla token verify https://edge.example/live/ch1/video/$uri"
"$rilla" token verify --keys "$work/keys" "https://edge.example/live/ch1/video/$uri"
