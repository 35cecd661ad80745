#!/usr/bin/env bash
# Regenerates the tables of docs/configuration.md from the config structs' doc comments.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=$(cargo test -q -p rilla-config print_reference -- --ignored --nocapture 2>/dev/null \
    | sed -n '/^### /,$p' | sed '/^test result:/d; /^\.$/d')
intro=$(sed '/^### /,$d' docs/configuration.md)
printf '%s\n\n%s\n' "$intro" "$ref" | cat -s > docs/configuration.md
