#!/bin/bash
# Multi-node, multi-GPU pre-training on SLURM: one task per GPU, Lightning reads SLURM's
# variables (SLURMEnvironment) and requeues the job when SLURM signals preemption. Here
# Lightning owns the requeue (SIGUSR1); sweeps submitted by `structured-ssl grid --launcher
# slurm` use submitit's instead (see docs/guides/cluster.md, "Running on a cluster").
#
#   sbatch scripts/slurm_fit.sh configs/objectives/structured.yaml --config configs/paper/datasets/cifar10.yaml \
#     --config configs/groups/rotation_c4.yaml   (a composed cell: the first config, then more --config)
#
# Keep --nodes / --ntasks-per-node in step with trainer.num_nodes / trainer.devices below
# (they are read from SLURM's variables). On CPUs (the tests do this), override on the
# command line and through the environment:
#   ACCELERATOR=cpu PYTHON=/path/to/python sbatch --nodes=1 --ntasks-per-node=1 \
#     --gpus-per-node=0 --cpus-per-task=1 scripts/slurm_fit.sh configs/default.yaml
#SBATCH --job-name=structured-ssl
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@90
#SBATCH --requeue
#SBATCH --output=slurm-%j.out
set -euo pipefail
CONFIG=${1:?usage: sbatch scripts/slurm_fit.sh CONFIG [extra CLI args]}
shift
# SIGUSR1 (sent 90 s before the time limit) makes Lightning save and requeue the job; the
# requeued job resumes from the last checkpoint with --ckpt_path last.
srun "${PYTHON:-.venv/bin/python}" -m structured_ssl.cli fit --config "$CONFIG" \
  --trainer.accelerator "${ACCELERATOR:-gpu}" \
  --trainer.devices "$SLURM_NTASKS_PER_NODE" \
  --trainer.num_nodes "$SLURM_JOB_NUM_NODES" \
  --trainer.strategy ddp \
  --ckpt_path last \
  "$@"
