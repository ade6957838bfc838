#!/usr/bin/env bash
# Runs the whole suite on SQLite and on PostgreSQL (or just one: `scripts/test.sh sqlite|postgres`).
# Installs what the tests need first: Debian's Chromium for the browser tests, a running PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-both}"

scripts/test-deps.sh

# The real single-node Slurm of the compute tests (scripts/slurm/README.md): up.sh installs Debian's
# packages and starts it, as root; re-running it when it is up takes a second or two. Elsewhere the
# Slurm tests skip with the reason (and fail under CI=true). AIFACTORY_TEST_SLURM=0 leaves it alone.
if [[ "${AIFACTORY_TEST_SLURM:-1}" == 0 ]]; then
  echo "!!! AIFACTORY_TEST_SLURM=0: the Slurm test cluster is not started here; unless it runs already, its tests are SKIPPED"
elif [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "=== the Slurm test cluster (scripts/slurm/up.sh) ==="
  scripts/slurm/up.sh || echo "!!! scripts/slurm/up.sh failed: the Slurm tests will be SKIPPED (they FAIL under CI)"
else
  echo "!!! the Slurm test cluster needs root and apt-get (Debian 12): the Slurm tests will be SKIPPED"
fi

# Optional extras to test as well, comma-separated (.ci/run sets AIFACTORY_TEST_EXTRAS=sentence-transformers):
# installed into .venv once per change of pyproject.toml. torch comes first and as a CPU build (the default
# one is several GB of CUDA): pip takes torch==2.13.0 from our machines' disk; elsewhere set
# AIFACTORY_TEST_TORCH="torch --index-url https://download.pytorch.org/whl/cpu".
if [[ -n "${AIFACTORY_TEST_EXTRAS:-}" ]]; then
  export AIFACTORY_TEST_EXTRAS
  stamp=".venv/.extras-${AIFACTORY_TEST_EXTRAS//[^a-z0-9-]/_}"
  if [[ ! "$stamp" -nt pyproject.toml ]]; then
    echo "=== installing the extras: $AIFACTORY_TEST_EXTRAS ==="
    if [[ ",$AIFACTORY_TEST_EXTRAS," == *,sentence-transformers,* ]]; then
      .venv/bin/pip install --quiet ${AIFACTORY_TEST_TORCH:-torch==2.13.0}
    fi
    .venv/bin/pip install --quiet -e ".[$AIFACTORY_TEST_EXTRAS]"
    touch "$stamp"
  fi
fi

export AIFACTORY_ENV=test
base="${AIFACTORY_DATA_DIR:-$(mktemp -d)}"
PG_URL="${TEST_POSTGRES_URL:-postgres://aifactory:aifactory@127.0.0.1:5432/aifactory}"

sqlite_pass() {
  echo "=== test suite on SQLite ==="
  export AIFACTORY_DATA_DIR="$base/sqlite"
  mkdir -p "$AIFACTORY_DATA_DIR"
  DATABASE_URL="sqlite:///$AIFACTORY_DATA_DIR/test.sqlite3" .venv/bin/pytest -p no:cacheprovider ${PYTEST_ARGS:-}
}

postgres_pass() {
  echo "=== test suite on PostgreSQL ($PG_URL) ==="
  export AIFACTORY_DATA_DIR="$base/postgres"
  mkdir -p "$AIFACTORY_DATA_DIR"
  if .venv/bin/python - "$PG_URL" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable: {exc}")
    sys.exit(1)
PY
  then
    # After a SQLite pass, tests that use no database are not run a second time (aifactory/conftest.py).
    DATABASE_URL="$PG_URL" AIFACTORY_TEST_DATABASE_FREE_ONCE="${pg_database_free_once:-0}" \
      .venv/bin/pytest -p no:cacheprovider ${PYTEST_ARGS:-}
  else
    echo "!!! SKIPPED: the PostgreSQL run needs a server at $PG_URL (set TEST_POSTGRES_URL); .ci/run starts one"
    [[ "${CI:-}" != true ]]
  fi
}

status=0
pg_database_free_once=0
[[ "$which" == both ]] && pg_database_free_once=1
if [[ "$which" == sqlite || "$which" == both ]]; then
  .venv/bin/ruff check . && .venv/bin/ruff format --check . || status=1
fi

if [[ "$which" == sqlite || "$which" == both ]]; then
  sqlite_pass || status=1
fi
if [[ "$which" == postgres || "$which" == both ]]; then
  postgres_pass || status=1
fi
exit $status
