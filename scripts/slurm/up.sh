#!/usr/bin/env bash
# Brings up a single-node Slurm test cluster on localhost (Debian 12, Slurm 22.05, no systemd), the way the
# compute tests need it: munge, slurmdbd on the local MariaDB, slurmctld, slurmd with two fake GPUs, and
# slurmrestd with JWT authentication on 127.0.0.1:6820, plus two ordinary users that jobs run as.
# Idempotent: re-running leaves running daemons alone unless a generated config changed (then it restarts
# them). Run as root. Facts and gotchas: scripts/slurm/README.md. Stop with scripts/slurm/down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

CLUSTER=${SLURM_CLUSTER:-aifactory}
REST_LISTEN=${SLURMRESTD_LISTEN:-127.0.0.1:6820}
DB_NAME=${SLURM_DB_NAME:-slurm_acct_db}
DB_USER=${SLURM_DB_USER:-slurm}
DB_PASS=${SLURM_DB_PASS:-slurmdbd-test}
TEST_USERS=${SLURM_TEST_USERS:-aifuser1 aifuser2}
TIMEOUT=${SLURM_UP_TIMEOUT:-60}
STATE_DIR=/var/spool/slurm/statesave
JWT_KEY=$STATE_DIR/jwt_hs256.key
REST_USER=slurmrest
RUN=/run/slurm
LOGS=/var/log/slurm
export DEBIAN_FRONTEND=noninteractive

say() { echo "slurm-up: $*"; }
tails() {
  local f
  for f in "$LOGS"/slurmdbd.log "$LOGS"/slurmctld.log "$LOGS"/slurmd.log "$LOGS"/slurmrestd.log /var/log/munge/munged.log; do
    [[ -s $f ]] && { echo "--- tail $f"; tail -n 25 "$f"; }
  done
  return 0
}
die() { echo "slurm-up: ERROR: $*" >&2; tails >&2; exit 1; }
# wait_for SECONDS WHAT CMD...: retry CMD every 0.5 s until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what did not come up within ${secs}s"
    sleep 0.5
  done
}
# alive PIDFILE NAME: the pid file names a live process called NAME (not a zombie: in a container without
# an init that reaps, a crashed daemon stays a zombie with its name).
alive() {
  local pid _ comm state
  pid=$(cat "$1" 2>/dev/null) && [[ -n $pid ]] || return 1
  read -r _ comm state _ 2>/dev/null <"/proc/$pid/stat" || return 1
  [[ $comm == "($2)" && $state != Z ]]
}

[[ $(id -u) == 0 ]] || { echo "slurm-up: run as root" >&2; exit 1; }
start=$SECONDS

# 1. Packages (Debian's own; policy-rc.d or no systemd means nothing starts by itself).
pkgs=(munge slurm-wlm slurmctld slurmd slurm-client slurmdbd slurmrestd slurm-wlm-jwt-plugin curl)
[[ -x /usr/sbin/mariadbd ]] || pkgs+=(mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  t=$SECONDS
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  say "apt-get install took $((SECONDS - t))s"
fi

# 2. MariaDB with the accounting database and its user (TCP on 127.0.0.1; my.cnf may skip name resolution,
# so the user exists for both 'localhost' and '127.0.0.1').
if ! mariadb -uroot -e 'select 1' >/dev/null 2>&1; then
  say "starting MariaDB"
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for "$TIMEOUT" MariaDB mariadb -uroot -e 'select 1'
fi
mariadb -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
SET GLOBAL innodb_lock_wait_timeout = 900;
SQL

# 3. Users: slurmrestd refuses root and SlurmUser, so it runs as its own system user; jobs run as the
# ordinary test users.
id "$REST_USER" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin "$REST_USER"
for u in $TEST_USERS; do
  id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
done

# 4. Keys and directories.
install -d -o munge -g munge -m 0700 /etc/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  say "creating the munge key"
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o slurm -g slurm -m 0755 /var/spool/slurm "$STATE_DIR" "$RUN" "$LOGS"
install -d -o root -g root -m 0755 /var/spool/slurm/d
if [[ ! -s $JWT_KEY ]]; then
  say "creating the JWT key $JWT_KEY"
  dd if=/dev/urandom of="$JWT_KEY" bs=32 count=1 status=none
fi
chown slurm:slurm "$JWT_KEY" && chmod 0600 "$JWT_KEY"
for i in 0 1; do [[ -c /dev/fakegpu$i ]] || mknod -m 0666 /dev/fakegpu$i c 1 3; done

# 5. Configuration from the templates; the node's shape comes from `slurmd -C`.
hw=$(slurmd -C | head -n 1)
field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
render() {
  sed -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@JWT_KEY@|$JWT_KEY|g" -e "s|@STATE_DIR@|$STATE_DIR|g" \
    -e "s|@CPUS@|$(field CPUs)|g" -e "s|@BOARDS@|$(field Boards)|g" \
    -e "s|@SOCKETS@|$(field SocketsPerBoard)|g" -e "s|@CORES@|$(field CoresPerSocket)|g" \
    -e "s|@THREADS@|$(field ThreadsPerCore)|g" -e "s|@MEMORY@|$(field RealMemory)|g" \
    -e "s|@DB_USER@|$DB_USER|g" -e "s|@DB_PASS@|$DB_PASS|g" -e "s|@DB_NAME@|$DB_NAME|g" "$1"
}
changed=0
# put TEMPLATE TARGET OWNER MODE: write the rendered template if it differs.
put() {
  local tmp
  tmp=$(mktemp)
  render "$here/$1" >"$tmp"
  grep -q '@[A-Z_]*@' "$tmp" && { rm -f "$tmp"; die "unfilled placeholder in $1"; }
  if ! cmp -s "$tmp" "$2"; then
    install -o "$3" -g "$3" -m "$4" "$tmp" "$2"
    changed=1
    say "wrote $2"
  fi
  chown "$3:$3" "$2" && chmod "$4" "$2"
  rm -f "$tmp"
}
install -d -m 0755 /etc/slurm
put slurm.conf.in /etc/slurm/slurm.conf root 0644
put gres.conf.in /etc/slurm/gres.conf root 0644
put slurmdbd.conf.in /etc/slurm/slurmdbd.conf slurm 0600

# 6. Daemons, in order. A config change restarts the Slurm daemons (slurmctld keeps jobs in StateSave).
if ((changed)) && alive "$RUN/slurmctld.pid" slurmctld; then
  say "configuration changed: restarting the Slurm daemons"
  "$here/down.sh" --keep-munge
fi

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  start-stop-daemon --start --oknodo --chuid munge --exec /usr/sbin/munged -- --force
  wait_for "$TIMEOUT" munged sh -c 'munge -n | unmunge'
fi

if ! alive "$RUN/slurmdbd.pid" slurmdbd; then
  say "starting slurmdbd"
  slurmdbd
fi
wait_for "$TIMEOUT" slurmdbd sacctmgr -n list cluster
if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
  say "registering cluster $CLUSTER"
  sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi

# The test users' default account. Tests make accounts of their own and remove them afterwards;
# Slurm refuses to remove an account that is a user's default, so the users' default stays here.
DEFAULT_ACCOUNT=${SLURM_TEST_DEFAULT_ACCOUNT:-sandbox}
if [[ -z $(sacctmgr -n -P list account "$DEFAULT_ACCOUNT" format=account) ]]; then
  sacctmgr -i add account "$DEFAULT_ACCOUNT" cluster="$CLUSTER" \
    description="default account of the test users" >/dev/null
fi
members=" $(sacctmgr -n -P list assoc account="$DEFAULT_ACCOUNT" format=user | tr '\n' ' ') "
defaults=" $(sacctmgr -n -P list user format=user,defaultaccount | tr '\n' ' ') "
for u in $TEST_USERS; do
  [[ $members == *" $u "* ]] \
    || sacctmgr -i add user "$u" account="$DEFAULT_ACCOUNT" cluster="$CLUSTER" >/dev/null
  [[ $defaults == *" $u|$DEFAULT_ACCOUNT "* ]] \
    || sacctmgr -i modify user where name="$u" set defaultaccount="$DEFAULT_ACCOUNT" >/dev/null
done

if ! alive "$RUN/slurmctld.pid" slurmctld; then
  say "starting slurmctld"
  slurmctld
fi
wait_for "$TIMEOUT" slurmctld scontrol ping

if ! alive "$RUN/slurmd.pid" slurmd; then
  say "starting slurmd"
  slurmd -N localhost
fi

if ! alive "$RUN/slurmrestd.pid" slurmrestd; then
  say "starting slurmrestd on $REST_LISTEN"
  install -o "$REST_USER" -g "$REST_USER" -m 0644 /dev/null "$LOGS/slurmrestd.log.new"
  [[ -e $LOGS/slurmrestd.log ]] || mv "$LOGS/slurmrestd.log.new" "$LOGS/slurmrestd.log"
  rm -f "$LOGS/slurmrestd.log.new"
  chown "$REST_USER:$REST_USER" "$LOGS/slurmrestd.log"
  SLURM_JWT=daemon start-stop-daemon --start --background --make-pidfile --pidfile "$RUN/slurmrestd.pid" \
    --chuid "$REST_USER" --output "$LOGS/slurmrestd.log" --exec /usr/sbin/slurmrestd -- \
    -a rest_auth/jwt -s openapi/v0.0.38,openapi/dbv0.0.38 "$REST_LISTEN"
fi
# Any HTTP answer will do (401 without a token); our slurmrestd must be the one alive.
rest_up() {
  alive "$RUN/slurmrestd.pid" slurmrestd \
    && [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$REST_LISTEN/slurm/v0.0.38/ping") != 000 ]]
}
wait_for "$TIMEOUT" slurmrestd rest_up

# 7. The node idle (resume it if it came up down or drained, e.g. after a config change).
node_state() { sinfo -h -n localhost -o %T | head -n 1; }
end=$((SECONDS + TIMEOUT))
while :; do
  state=$(node_state 2>/dev/null || true)
  case $state in
    idle | mixed | allocated | completing) break ;;
    down* | drain* | fail*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
  esac
  ((SECONDS < end)) || die "node localhost is '${state:-unknown}', not idle, after ${TIMEOUT}s"
  sleep 0.5
done

say "up in $((SECONDS - start))s: cluster $CLUSTER, slurmrestd http://$REST_LISTEN, JWT key $JWT_KEY"
sinfo -o '%P %a %D %T %c %m %G'
