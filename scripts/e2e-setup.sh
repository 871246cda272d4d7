#!/usr/bin/env bash
# Installs what the end-to-end test needs (../shared/docs/e2e-vscode.md, verified recipe): Debian's
# chromium and ripgrep, and code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) in a
# cache folder OUTSIDE the repository, so CI installs it once. Prints the code-server binary's path last.
#   FRSPEC_E2E_CACHE  where code-server lives (default ~/.cache/frspec-e2e)
set -euo pipefail
CS_VERSION=4.100.3
CACHE="${FRSPEC_E2E_CACHE:-$HOME/.cache/frspec-e2e}"
CS_DIR="$CACHE/code-server-$CS_VERSION"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
command -v python3 >/dev/null || need_apt+=(python3)
command -v g++ >/dev/null || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "e2e-setup: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y "${need_apt[@]}" >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y "${need_apt[@]}" >&2; }
fi

if [ ! -x "$CS_BIN" ]; then
  echo "e2e-setup: installing code-server $CS_VERSION into $CS_DIR (once; ~1-3 min)" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # @vscode/ripgrep downloads from GitHub unless this tarball (Debian's rg at its root) is already cached.
  mkdir -p "$tmp/vscode-ripgrep-cache-1.15.11"
  cp "$(command -v rg)" "$tmp/rg"
  tar -czf "$tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$tmp" rg
  rm -rf "$CS_DIR.partial" && mkdir -p "$CS_DIR.partial"
  (cd "$CS_DIR.partial" && echo '{"name":"frspec-e2e-code-server","private":true}' > package.json &&
    TMPDIR="$tmp" npm_config_yes=true npm install --unsafe-perm --no-save --no-audit --no-fund "code-server@$CS_VERSION" >&2)
  rm -rf "$CS_DIR" && mv "$CS_DIR.partial" "$CS_DIR"
fi
echo "$CS_BIN"
