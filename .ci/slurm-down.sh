#!/usr/bin/env bash
# Stop what .ci/slurm-up.sh started: cancel the jobs left, then slurmd, slurmctld and munged,
# each by its PID file. Safe to call when nothing runs (used from a trap in .ci/run).
set -uo pipefail
state="${SLURM_CI_STATE:-/tmp/slurm-ci}"
command -v scancel >/dev/null && scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
stop() {  # stop PIDFILE: TERM, then KILL after 10 s
  local file="$1" pid
  test -s "$file" || return 0
  pid="$(cat "$file")"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
stop "$state/slurmd.pid"
stop "$state/slurmctld.pid"
stop /run/munge/munged.pid
echo "slurm-down: stopped"
