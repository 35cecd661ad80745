# Installs Debian packages and Rust components the project needs, skipping what is there.
# Sourced by the scripts in scripts/.

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "== installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

install_build_tools() {
    apt_install build-essential cmake pkg-config perl
    if command -v rustup >/dev/null; then
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    fi
}

install_ffmpeg() {
    # The player and the HTTP/2 client of the end-to-end tests.
    command -v ffmpeg >/dev/null || apt_install ffmpeg
    command -v curl >/dev/null || apt_install curl
}

install_browser() {
    # Headless Chromium and the npm packages of the browser test (tests/browser/).
    [ -x /usr/bin/chromium ] || apt_install chromium
    if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
        echo "== npm ci --prefix tests/browser"
        npm ci --prefix tests/browser --no-audit --no-fund
    fi
}
