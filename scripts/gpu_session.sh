#!/usr/bin/env bash
# One GPU measurement session on the offline GPU machine (docs/guides/gpu.md, shared/GPU.md):
# installs the wheels in .whl/ (fetched beforehand as shared/GPU.md says) into a temporary site,
# sets PYTHONPATH, and runs benchmarks/gpu.py, writing its table and JSON under $OUT (default
# docs/results/gpu). Run unchanged from the checkout: bash scripts/gpu_session.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-docs/results/gpu}"
mkdir -p "$out"
site=$(mktemp -d)
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --target "$site" .whl/*.whl
fi
export PYTHONPATH="$site:$PWD/.gpustub:$PWD/src"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/device.csv" || true
python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())' > "$out/torch.txt"
# about 6 minutes on one GPU (18 cells + the anchor); 540 s leaves room inside a 10-minute call
timeout 540 python3 benchmarks/gpu.py --out "$out" "$@" 2> "$out/gpu.log"
