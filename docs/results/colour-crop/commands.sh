#!/usr/bin/env bash
# The colour/crop table (docs/reports/colour-and-crop.md): A-SSL, H-SSL, Frozen, Supervised for
# hue, crop and hue x crop on the colour digits, the structure-free twin of the hue cell, and the
# plain CNN with A-SSL + kornia colour jitter + crop; 3 epochs, seeds one after the other (so a
# cut-off run leaves whole seeds), 2 runs at once, on a loaded 2-core CPU.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=results/colour-crop
COMMON=(--dataset colour_digits --epochs 3 --overlay docs/results/colour-crop/overlay.yaml --jobs 2 --out "$OUT")
for seed in 0 1 2; do
  structured-ssl grid "${COMMON[@]}" --seeds "$seed" --objectives augmentation structured frozen supervised --groups hue crop hue_crop
  structured-ssl grid "${COMMON[@]}" --seeds "$seed" --objectives unstructured --groups hue
  structured-ssl grid "${COMMON[@]}" --seeds "$seed" --objectives jitter --groups plain
done
# every finished run in one table (finished runs are skipped, not rerun), then the step times
structured-ssl grid "${COMMON[@]}" --seeds 0 1 2 --objectives augmentation structured frozen supervised unstructured jitter --groups hue crop hue_crop plain --dry-run > /dev/null || true
python scripts/colour_crop_table.py "$OUT" docs/results/colour-crop
