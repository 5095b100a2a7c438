#!/usr/bin/env bash
# The hybrid table (docs/reports/paper-grid.md, "The hybrid"), with the paper read-out.
set -euo pipefail
structured-ssl grid --dataset digits --objectives augmentation structured hybrid --epochs 8 --out results/grid-digits-hybrid
python scripts/readme_tables.py record results/grid-digits-hybrid grid-digits-hybrid
