#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, the fuzz targets' build, unit, property,
# corpus and end-to-end tests. Installs what the tests need first, skipping what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh

install_build_tools
install_ffmpeg
install_browser

export CARGO_TERM_COLOR=never
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== fuzz targets build"
RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/fuzz cargo check --manifest-path fuzz/Cargo.toml --bins --locked
echo "== cargo test"
cargo build --workspace --bins --locked
cargo test --workspace --locked
