"""Each command stores its own config in the run folder; none rewrites another's.

Why: ``test``, ``validate`` and ``predict`` of a fit's checkpoint log into that fit's version
folder (one model, one TensorBoard run), and LightningCLI saved their config there as
``config.yaml`` with ``overwrite: True``: after a 1-epoch fit the folder's config read
``max_epochs: 10`` and listed an ``EmbeddingWriter`` the fit never had. Here every command
claims a name of its own ([`structured_ssl.callbacks.claims`][structured_ssl.callbacks.claims]) and
writes it atomically:

* ``fit``: ``config.yaml``; a resumed fit (the folder exists) ``config-resume.yaml``,
  ``config-resume-2.yaml``, ... (``fit --ckpt_path FILE`` alone resumes with the newest,
  [`saved_fit_config`][structured_ssl.experiments.run_config.saved_fit_config]);
* ``test`` / ``validate`` / ``predict``: ``config-test.yaml``, ``config-test-2.yaml``, ...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import SaveConfigCallback

from structured_ssl.callbacks.claims import claim_file, numbered
from structured_ssl.callbacks.write_faults import write_fault
from structured_ssl.data.download import atomic_write

FIT_CONFIG = "config.yaml"


def config_names(stage: Any) -> Any:
    """The names a ``stage`` (``fit``, ``test``, ... or Lightning's ``TrainerFn``) tries, in order."""
    stage = str(getattr(stage, "value", stage))
    if stage == "fit":
        return _fit_names()
    return numbered(f"config-{stage}.yaml", f"config-{stage}", ".yaml")


def _fit_names() -> Any:
    yield FIT_CONFIG
    yield from numbered("config-resume.yaml", "config-resume", ".yaml")


def saved_fit_config(version_dir: Path) -> Path:
    """The config a resume of this run composes: the newest of ``config.yaml`` and the
    ``config-resume[-N].yaml`` of its earlier resumes (which may have raised ``max_epochs``)."""
    resumes = []
    for path in version_dir.glob("config-resume*.yaml"):
        match = re.fullmatch(r"config-resume(?:-(\d+))?\.yaml", path.name)
        if match and path.stat().st_size > 0:
            resumes.append((int(match[1] or 1), path))
    return max(resumes)[1] if resumes else version_dir / FIT_CONFIG


class RunConfigSaver(SaveConfigCallback):
    """LightningCLI's SaveConfigCallback, writing a claimed name of the command's own, never
    over an existing file, and atomically (a kill mid-write leaves no partial config)."""

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.already_saved:
            return
        log_dir = trainer.log_dir  # broadcast from rank zero
        name = None
        if trainer.is_global_zero and log_dir is not None:
            folder, claimed = Path(log_dir), None
            try:
                claimed = claim_file(folder, config_names(stage))
                text = self.parser.dump(self.config, skip_none=False)
                with atomic_write(claimed) as f:
                    f.write(text.encode())
            except OSError as error:
                if claimed is not None:
                    claimed.unlink(missing_ok=True)  # the empty claim, never a config
                raise write_fault(claimed or folder, error, "run config") from error
            name = claimed.name
            self.save_config(trainer, pl_module, stage)
        self.config_filename = trainer.strategy.broadcast(name) or self.config_filename
        self.already_saved = trainer.strategy.broadcast(True)
