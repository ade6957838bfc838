#!/usr/bin/env bash
# Installs and starts what the test suite needs on Debian: Chromium, gettext (to check the translations are
# up to date) and a running PostgreSQL with the test role.
set -uo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v msgfmt >/dev/null || need+=(gettext)
if (( ${#need[@]} )); then
  echo "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" \
    || echo "!!! could not install ${need[*]}: the tests that need them will be skipped"
fi

"$(dirname "$0")/postgres.sh"
exit 0
