#!/usr/bin/env bash
# Stops the test cluster started by scripts/slurm/up.sh: slurmrestd, slurmd, slurmctld, slurmdbd and munged.
# MariaDB keeps running (other things may use it), and so do running job steps unless --purge.
#   --keep-munge  leave munged running (up.sh uses this to restart Slurm after a config change)
#   --purge       also forget everything: controller state (jobs, JWT key), the accounting database and
#                 the generated configs, so the next up.sh starts like on a fresh machine
set -uo pipefail
RUN=/run/slurm
keep_munge=0 purge=0
for a in "$@"; do
  case $a in
    --keep-munge) keep_munge=1 ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--keep-munge] [--purge]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "slurm-down: run as root" >&2; exit 1; }

# stop NAME PIDFILE: TERM, then KILL after 15 s.
stop() {
  [[ -s $2 ]] || return 0
  start-stop-daemon --stop --quiet --oknodo --pidfile "$2" --name "$1" --retry TERM/15/KILL/5 || true
  rm -f "$2"
}
# Each daemon takes about 2 s to stop: the first three in parallel, slurmdbd last so that slurmctld can
# hand over its last accounting records.
stop slurmrestd "$RUN/slurmrestd.pid" &
stop slurmd "$RUN/slurmd.pid" &
stop slurmctld "$RUN/slurmctld.pid" &
wait
stop slurmdbd "$RUN/slurmdbd.pid"
((keep_munge)) || stop munged /run/munge/munged.pid

if ((purge)); then
  # Job steps outlive slurmd (they reconnect to a restarted slurmd); a purge ends them too.
  for pid in $(pgrep -x slurmstepd); do kill "$pid" 2>/dev/null; done
  db=$(sed -n 's/^StorageLoc=//p' /etc/slurm/slurmdbd.conf 2>/dev/null)
  [[ -n $db ]] && mariadb -uroot -e "DROP DATABASE IF EXISTS \`$db\`" 2>/dev/null
  rm -rf /var/spool/slurm/statesave /var/spool/slurm/d
  rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf
  echo "slurm-down: purged state, accounting database ${db:-?} and configs"
fi
echo "slurm-down: stopped"
