"""One tiny finished fit for the bad-input probe's rows, made once per process and copied.

Layout (what rows name): ``tmp/runs/StructuredSSL-C8-NTXent-digits-seed0/version_0/`` with
``checkpoints/last.ckpt``, ``config.yaml`` and ``hparams.yaml``: a 1-epoch fit of the shipped
default config (structured SSL, C8, the embedded 8x8 digits: 1 channel, 21 x 21) limited to
two training batches. The saved configs' paths are rewritten to point at ``tmp``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

SHORT = [
    "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
    "--trainer.limit_test_batches=1", "--trainer.limit_predict_batches=1", "--trainer.num_sanity_val_steps=0",
    "--data.init_args.train_subset=64", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
]  # fmt: skip
RUN = "runs/StructuredSSL-C8-NTXent-digits-seed0/version_0"
LAST = f"{{tmp}}/{RUN}/checkpoints/last.ckpt"
_made: dict[str, Path] = {}


def finished_fit(tmp: Path) -> None:
    """``tmp/runs``: the finished fit (``RUN``), trained once in this process and copied."""
    if "fit" not in _made:
        from structured_ssl.cli import main

        root = Path(tempfile.mkdtemp(prefix="finished-fit-"))
        main(["fit", "--config", "default", f"--trainer.default_root_dir={root}/runs", *SHORT])
        _made["fit"] = root
    source = _made["fit"]
    shutil.copytree(source / "runs", tmp / "runs", dirs_exist_ok=True)
    for path in (tmp / "runs").rglob("*.yaml"):
        path.write_text(path.read_text().replace(str(source), str(tmp)))
