#!/usr/bin/env bash
# Start a one-node SLURM (munge, slurmctld, slurmd) on 127.0.0.1 for tests/experiments/test_slurm.py.
# Root only (CI is a fresh machine as root). Installs Debian's packages when sbatch is missing,
# writes /etc/slurm/slurm.conf from .ci/slurm.conf.in, and waits until the node takes jobs.
# Stop it with .ci/slurm-down.sh. State, logs and PID files: $SLURM_CI_STATE (/tmp/slurm-ci).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${SLURM_CI_STATE:-/tmp/slurm-ci}"
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    munge slurmctld slurmd slurm-client >/dev/null
fi
mkdir -p "$state/ctld" "$state/spool" /etc/slurm
host="$(hostname -s)"
cpus="$(nproc)"
# slurmd drains a node whose configured memory exceeds what it finds: stay below it
memory="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
memory="$(( ${memory:-4000} * 9 / 10 ))"
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY@|$memory|g" -e "s|@STATE@|$state|g" \
  "$here/slurm.conf.in" > /etc/slurm/slurm.conf

# munge: no systemd here; its run dir must exist and belong to the munge user
test -s /etc/munge/munge.key || mungekey --create --keyfile /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

pid_alive() { test -s "$1" && kill -0 "$(cat "$1")" 2>/dev/null; }
pid_alive "$state/slurmctld.pid" || slurmctld
pid_alive "$state/slurmd.pid" || slurmd
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
    echo "slurm-up: one-node SLURM ready on $host ($cpus CPUs); logs in $state"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-up: the node did not become idle; sinfo says:" >&2
sinfo -N -l >&2 || true
tail -20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
exit 1
