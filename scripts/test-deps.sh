#!/usr/bin/env bash
# Installs and starts what the test suite needs on Debian: Chromium, gettext (to check the translations are
# up to date), the system Python's scikit-learn (for jobs run as another user) and a running PostgreSQL
# with the test role.
set -uo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v msgfmt >/dev/null || need+=(gettext)
# Jobs that run as another user (nobody on the local backend as root, a Slurm user) cannot read the
# portal's venv; the text-classifier template then uses the system Python with scikit-learn.
/usr/bin/python3 -c "import sklearn, joblib" 2>/dev/null || need+=(python3-sklearn)
if (( ${#need[@]} )); then
  echo "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" \
    || echo "!!! could not install ${need[*]}: the tests that need them will be skipped"
fi

"$(dirname "$0")/postgres.sh"
exit 0
