# Shared set-up for the README's two commands (sourced, not run).
# Installs only what is missing, so a second run is quick.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11 needs a newer rustc than 1.95
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

# Runs a command as root: directly, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
    say "adding the wasm32 target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 18 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  # cargo-leptos would download wasm-bindgen from GitHub: install the CLI of
  # exactly the crate version in Cargo.lock instead.
  local wbg
  wbg="$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
    say "installing wasm-bindgen-cli $wbg (about 3 minutes, once)"
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

ensure_node() {
  if ! command -v npm >/dev/null; then
    say "installing Node.js and npm from Debian"
    apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "warning: Node.js $major found; Playwright 1.65 wants 20 or newer" >&2
  fi
}

# npm packages of e2e/: Playwright (no browser download) and binaryen, whose
# wasm-opt the release build needs (Debian's binaryen 108 breaks hydration).
ensure_e2e_packages() {
  ensure_node
  if [ ! -x "$ROOT/e2e/node_modules/.bin/wasm-opt" ] || [ ! -x "$ROOT/e2e/node_modules/.bin/playwright" ] \
     || [ "$ROOT/e2e/package-lock.json" -nt "$ROOT/e2e/node_modules/.package-lock.json" ]; then
    say "installing the npm packages of e2e/"
    (cd "$ROOT/e2e" && npm ci --no-audit --no-fund)
  fi
  export PATH="$ROOT/e2e/node_modules/.bin:$PATH"
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium from Debian"
    apt_install chromium
  fi
}

build_release() {
  say "building the release (server + wasm) with cargo-leptos"
  (cd "$ROOT" && cargo leptos build --release)
}
