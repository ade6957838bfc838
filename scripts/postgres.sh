#!/usr/bin/env bash
# Starts the local PostgreSQL if it is installed but not running, and makes sure the test role exists:
# `aifactory` with password `aifactory` and CREATEDB, so the tests connect over TCP with a password whatever
# pg_hba.conf says (Debian's default is scram-sha-256 on 127.0.0.1). Needs root or sudo for the first run.
set -uo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
as_postgres() { if [[ $(id -un) == postgres ]]; then "$@"; else as_root runuser -u postgres -- "$@"; fi; }

command -v pg_ctlcluster >/dev/null || exit 0
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || exit 0
as_postgres psql -q -tAc "SELECT 1 FROM pg_roles WHERE rolname='aifactory'" 2>/dev/null | grep -q 1 \
  || as_postgres psql -q -c "CREATE ROLE aifactory LOGIN CREATEDB PASSWORD 'aifactory'" || true
as_postgres psql -q -tAc "SELECT 1 FROM pg_database WHERE datname='aifactory'" 2>/dev/null | grep -q 1 \
  || as_postgres psql -q -c "CREATE DATABASE aifactory OWNER aifactory" || true
exit 0
