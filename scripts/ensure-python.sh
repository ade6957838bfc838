#!/usr/bin/env bash
# Makes sure the Python that `make install` uses can create a virtual environment (Debian splits venv and
# ensurepip into python3.X-venv). Installs the Debian packages when run as root or with sudo.
set -uo pipefail
python="${1:-python3.11}"
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v "$python" >/dev/null; then
  echo "$python not found; installing it from Debian"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv \
    || { echo "error: install Python 3.11 (apt-get install python3.11 python3.11-venv)"; exit 1; }
fi
if ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
  echo "$python cannot create virtual environments; installing python3.11-venv"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-venv \
    || { echo "error: apt-get install python3.11-venv"; exit 1; }
fi
exit 0
