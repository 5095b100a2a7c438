"""Rows of the bad-input probe (issue 31, items 1 and 4): runs that must not rewrite or lose
what an earlier run wrote, and disk faults that must end in one line.

The table-driven probe collects every ``tests/bad_input_cases_*.py`` that defines
``CASES: list[dict]``. Each row: ``id``; ``argv`` (a ``structured-ssl`` command line without
the program name, ``{tmp}`` standing for the case's temporary folder); ``setup`` (the name of a
function here, called as ``setup(tmp: Path)`` before the command, or absent); ``exit`` (the
expected exit status); ``words`` (all in the one ``error:`` line); ``unchanged`` (globs under
``tmp``, recursive ``**`` allowed, whose files must keep their bytes).

Rows naming ``fault_injection.*`` need ``tests/`` importable (pytest's default ``prepend``
import mode puts it on ``sys.path`` for the test modules there). The behaviour tests of the
same cases, with more checks than one line, are in tests/bad_inputs/test_run_files.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from bad_input_fit import LAST, RUN, SHORT, finished_fit  # one shared fit for every row

__all__ = ["LAST", "RUN", "SHORT", "finished_fit"]  # setup functions are looked up by name


def earlier_embeddings(tmp: Path) -> None:
    """``tmp/emb/embeddings-rank0.pt``: what an earlier predict wrote."""
    (tmp / "emb").mkdir()
    torch.save({"embeddings": torch.zeros(3, 2)}, tmp / "emb" / "embeddings-rank0.pt")


def a_file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a folder\n")


FULL_DISK = json.dumps({"class_path": "fault_injection.FullDiskFrom", "init_args": {"save": 0}})
FROZEN_PREDICT = [
    "predict", "--config", "default", "--model=structured_ssl.methods.Frozen",
    "--trainer.default_root_dir={tmp}/runs", *SHORT,
    "--trainer.callbacks+=structured_ssl.callbacks.prediction_writer.EmbeddingWriter",
]  # fmt: skip

CASES: list[dict] = [
    {
        "id": "predict-without-checkpoint",
        "argv": ["predict", "--config", "default", "--trainer.default_root_dir={tmp}/runs", *SHORT],
        "exit": 2,
        "words": ["ckpt_path=None", "untrained encoder", "--ckpt_path", "Frozen"],
        "unchanged": [],
    },
    {
        "id": "predict-output-dir-holds-embeddings",
        "argv": [*FROZEN_PREDICT, "--trainer.callbacks.output_dir={tmp}/emb"],
        "setup": "earlier_embeddings",
        "exit": 2,
        "words": ["output_dir=", "already holds embeddings-rank0.pt", "overwrite: true"],
        "unchanged": ["emb/*"],
    },
    {
        "id": "predict-output-dir-is-a-file",
        "argv": [*FROZEN_PREDICT, "--trainer.callbacks.output_dir={tmp}/afile"],
        "setup": "a_file",
        "exit": 2,
        "words": ["output_dir=", "afile", "is a file, expected a folder"],
        "unchanged": ["afile"],
    },
    {
        "id": "resume-as-saved-trains-nothing",
        "argv": ["fit", "--ckpt_path", LAST],
        "setup": "finished_fit",
        "exit": 2,
        "words": [
            "trainer.max_epochs=1",
            "already trained",
            "would train nothing",
            "max_epochs above 1",
        ],
        "unchanged": ["runs/**/*"],
    },
    {
        "id": "resume-last-trains-nothing",
        "argv": [
            "fit",
            "--config",
            "default",
            "--trainer.default_root_dir={tmp}/runs",
            *SHORT,
            "--ckpt_path=last",
        ],
        "setup": "finished_fit",
        "exit": 2,
        "words": ["trainer.max_epochs=1", "already trained", "would train nothing"],
        "unchanged": ["runs/**/*"],
    },
    {
        "id": "default-root-dir-name-too-long",
        "argv": [
            "fit",
            "--config",
            "default",
            "--trainer.default_root_dir={tmp}/" + "x" * 300 + "/runs",
        ],
        "exit": 2,
        "words": [
            "trainer.default_root_dir=",
            "File name too long",
            "at most 255 bytes per folder name",
        ],
        "unchanged": [],
    },
    {
        "id": "full-disk-at-a-checkpoint",
        "argv": [
            "fit",
            "--config",
            "default",
            "--trainer.default_root_dir={tmp}/runs",
            *SHORT,
            "--trainer.max_epochs=2",
            "--ckpt_path=last",
            f"--trainer.callbacks+={FULL_DISK}",
        ],  # fmt: skip
        "setup": "finished_fit",
        "exit": 1,
        "words": [
            "could not write the checkpoint",
            "No space left on device [ENOSPC]",
            "kept, unchanged",
            "last.ckpt",
        ],
        "unchanged": [f"{RUN}/checkpoints/*.ckpt", f"{RUN}/config.yaml"],
    },
]
