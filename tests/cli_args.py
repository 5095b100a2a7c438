"""CLI arguments the tests share: logs under a temporary root, no progress bar or summary."""

from __future__ import annotations

from pathlib import Path


def quiet(root: Path) -> list[str]:
    return [
        f"--trainer.logger.init_args.save_dir={root}",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
