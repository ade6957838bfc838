#!/usr/bin/env bash
# Installs and starts what the test suite needs on Debian: Chromium and a running PostgreSQL.
set -uo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
if (( ${#need[@]} )); then
  echo "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" \
    || echo "!!! could not install ${need[*]}: the tests that need them will be skipped"
fi

if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
exit 0
