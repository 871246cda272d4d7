#!/usr/bin/env bash
# Opt-in: installs Debian's python3-torch so test/unit/vocab-export.test.ts also loads the exported SGLang
# token map with torch.load(path, weights_only=True) (/usr/bin/python3, not a pyenv python). Without it that
# one check is skipped with a message and the byte-level format checks still run. Not part of .ci/run: the
# package pulls ~190 Debian packages (about 10 minutes on the 2-core CI machine).
set -euo pipefail
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "torch-check-setup: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)') already importable by /usr/bin/python3"
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-torch
/usr/bin/python3 -c 'import torch; print("torch-check-setup: torch", torch.__version__)'
