#!/bin/bash
# issue 26: the digits grid, studies and Table 2 with the paper read-out (1 seed)
cd "$(dirname "$0")/../../.."  # the repository root
export PYTHONPATH=$PWD/src
PY=.venv/bin/python
$PY -m structured_ssl.cli grid --configs configs/paper --dataset mnist --overlay configs/paper/small.yaml \
  --objectives augmentation structured frozen supervised --groups rotation translation scale \
  --seeds 0 --jobs 2 --out results/paper-mnist-small-v4
$PY -m structured_ssl.cli study g0_size --values 1 2 3 --group rotation --configs configs/paper --dataset mnist \
  --overlay configs/paper/small.yaml --seeds 0 --jobs 2 --out results/study-g0-v4
$PY -m structured_ssl.cli study max_distance --values 1 2 4 --group translation --configs configs/paper --dataset mnist \
  --overlay configs/paper/small.yaml --seeds 0 --jobs 2 --out results/study-distance-v4
$PY -m structured_ssl.cli grid --configs configs/paper --dataset mnist --overlay configs/paper/small.yaml \
  --objectives augmentation structured frozen supervised --groups scale_unstructured \
  --seeds 0 --jobs 2 --out results/paper-mnist-small-v4
$PY -m structured_ssl.cli grid --configs configs/paper --dataset mnist --overlay configs/paper/small_paper_encoder.yaml \
  --objectives augmentation structured frozen supervised --groups translation_unstructured \
  --seeds 0 --jobs 2 --out results/paper-mnist-small-v4
echo ALLDONE
