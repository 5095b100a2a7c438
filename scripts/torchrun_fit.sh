#!/bin/bash
# Multi-node launch without SLURM: run this on every node with its NODE_RANK.
#
#   MASTER_ADDR=node0 NODE_RANK=0 NNODES=2 GPUS=4 scripts/torchrun_fit.sh configs/objectives/structured.yaml --config configs/paper/datasets/mnist.yaml --config configs/groups/rotation_c4.yaml
#   MASTER_ADDR=node0 NODE_RANK=1 NNODES=2 GPUS=4 scripts/torchrun_fit.sh configs/objectives/structured.yaml --config configs/paper/datasets/mnist.yaml --config configs/groups/rotation_c4.yaml
#
# torchrun starts one process per GPU; Lightning detects torchrun's environment
# (TorchElasticEnvironment), so devices/num_nodes must match GPUS/NNODES.
set -euo pipefail
CONFIG=${1:?usage: scripts/torchrun_fit.sh CONFIG [extra CLI args]}
shift
: "${MASTER_ADDR:?set MASTER_ADDR}" "${NODE_RANK:?set NODE_RANK}"
NNODES=${NNODES:-1}
GPUS=${GPUS:-1}
exec .venv/bin/torchrun --nnodes "$NNODES" --nproc-per-node "$GPUS" --node-rank "$NODE_RANK" \
  --master-addr "$MASTER_ADDR" --master-port "${MASTER_PORT:-29500}" \
  -m structured_ssl.cli fit --config "$CONFIG" \
  --trainer.accelerator gpu --trainer.devices "$GPUS" --trainer.num_nodes "$NNODES" --trainer.strategy ddp "$@"
