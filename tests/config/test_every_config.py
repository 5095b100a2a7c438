"""Every shipped config cell passes the CLI's checks, not only its parser.

Each composed grid cell (``configs/cells.yaml`` and ``configs/paper/cells.yaml``, composed by
``structured_ssl.config.cells`` as the grid does), ``configs/default.yaml`` and the other single
configs are run through ``structured-ssl fit`` in-process, the real CLI, stopped right before
``trainer.fit``:

* the digits cells, the default, and the structured cell of each group of mnist / cifar10 /
  tiny_imagenet (`small` encoders): parse, the config checks (``before_instantiate_classes``),
  model + data + trainer built, and the checks that need them (``before_fit``: data/model
  shapes, batch per process, pairs on the built fiber grid).
* all other cells, paper cells included (their trainers ask for 8 GPUs x 8 nodes and their
  escnn ResNets take minutes to build on a CPU): parse, the config checks on the shipped config
  (which size the fiber grid without building: ``check_model_settings``), and the data module
  built. ``tests/encoders/test_paper_backbones.py`` builds the paper encoders.

Also: the translation cells state the A-SSL range and the matching H-SSL distance.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cli_args import cell_of, merged_yaml, quiet

from structured_ssl import cli
from structured_ssl.config.cells import offered_cells
from structured_ssl.config.data_checks import check_data_dir
from structured_ssl.experiments import lightning_cli
from structured_ssl.experiments.check import ONE_CPU_PROCESS

REPO = Path(__file__).resolve().parents[2]


def _cell_ids() -> list[str]:
    ids = []
    for root in ("configs", "configs/paper"):
        prefix = root.removeprefix("configs").strip("/")
        ids += [
            "/".join(p for p in (prefix, c.dataset, c.name) if p)
            for c in offered_cells(REPO / root)
        ]
    return ids


#: composed cells by id (``[paper/]<dataset>/<objective>_<group>``) and the single-file configs
CELLS = sorted(_cell_ids()) + ["configs/default.yaml", "configs/eval/linear.yaml"]


def arguments(config: str) -> list[str]:
    return ["--config", str(REPO / config)] if config.endswith(".yaml") else cell_of(config)


class Stop(Exception):
    """Raised where training would start."""


def run_to_the_start_of_fit(
    config: str, tmp_path: Path, monkeypatch, paper: bool
) -> lightning_cli.StructuredSSLCLI:
    """``paper``: stop after the config checks, with only the data module built."""
    reached: dict[str, lightning_cli.StructuredSSLCLI] = {}
    if paper:

        def instantiate_data_only(self: lightning_cli.StructuredSSLCLI) -> None:
            data = self.config["fit"]["data"]
            module, name = data["class_path"].rsplit(".", 1)
            cls = getattr(__import__(module, fromlist=[name]), name)
            self.datamodule = cls(**dict(data.get("init_args") or {}))
            check_data_dir(self.datamodule)
            reached["cli"] = self
            raise Stop

        monkeypatch.setattr(
            lightning_cli.StructuredSSLCLI, "instantiate_classes", instantiate_data_only
        )
    else:
        checked_fit = lightning_cli.StructuredSSLCLI.before_fit

        def stop_after_checks(self: lightning_cli.StructuredSSLCLI) -> None:
            checked_fit(self)
            reached["cli"] = self
            raise Stop

        monkeypatch.setattr(lightning_cli.StructuredSSLCLI, "before_fit", stop_after_checks)
    monkeypatch.chdir(tmp_path)
    # files a user downloads by hand (Tiny ImageNet): the unzipped layout's class list and split
    # folders pass the pre-build file check (images are read only when the data is set up)
    data_dir = []
    if "tiny_imagenet" in config:
        folder = tmp_path / "tiny-imagenet-200"
        for part in ("train", "val"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        (folder / "wnids.txt").write_text("n01443537\nn01629819\n")
        data_dir = [f"--data.init_args.data_dir={tmp_path}"]
    # the paper cells ask for GPU clusters, which this machine refuses in one line (a check of
    # its own): their other settings are checked in one CPU process, as `structured-ssl check` does
    one_cpu = list(ONE_CPU_PROCESS) if paper else []
    with pytest.raises(Stop):
        cli.main(["fit", *arguments(config), *quiet(tmp_path), *data_dir, *one_cpu])
    return reached["cli"]


def builds_cheaply(config: str) -> bool:
    """Built in full: the CPU cells (digits, default), and the structured cell of each group on
    the other `small`-encoder datasets (their siblings differ in the objective line only)."""
    if config.startswith("paper/"):
        return False
    return (
        config.startswith("digits/") or config == "configs/default.yaml" or "/structured_" in config
    )


@pytest.mark.parametrize("config", CELLS)
def test_every_config_cell_passes_the_cli_checks(config: str, tmp_path: Path, monkeypatch) -> None:
    if config.endswith(".yaml") and "checkpoint: ???" in (REPO / config).read_text():
        pytest.skip(
            "needs a pretrained checkpoint path (linear evaluation): covered by tests/methods/test_linear_eval.py"
        )
    built = builds_cheaply(config)
    run = run_to_the_start_of_fit(config, tmp_path, monkeypatch, paper=not built)
    assert run.datamodule is not None
    if built:
        assert run.model.image_size == run.datamodule.info.image_size
    assert not list(tmp_path.rglob("*.ckpt")), "nothing was trained or written"


def test_cells_are_found() -> None:
    """The 128 cells of the old one-file-per-cell layout, composed now from about 30 files, and
    the 39 colour / crop cells (colour_digits and cifar10: hue, crop, hue x crop, plain)."""
    assert len(CELLS) == 169 and "configs/default.yaml" in CELLS
    assert {
        "digits/hybrid_scale",
        "paper/mnist/structured_translation_unstructured",
        "paper/tiny_imagenet/frozen_scale",
        "tiny_imagenet/unstructured_dihedral",
        "colour_digits/structured_hue",
        "cifar10/augmentation_hue_crop",
    } <= set(CELLS)
    # 30 + 3 new groups + their manifest + 2 own-data datasets + 2 one-GPU trainer files, and
    # the colour / crop axes: 3 groups, the plain CNN, the jitter objective, the colour digits
    assert len(list((REPO / "configs").rglob("*.yaml"))) <= 46


# ----------------------------------------------------------------------------- translation ranges
TRANSLATION_H_SSL = {
    # cell: (image px, px per cell of its encoder)
    "paper/mnist/structured_translation": (29, 4),
    "paper/mnist/structured_translation_unstructured": (29, 7),
    "paper/cifar10/structured_translation": (32, 4),
    "digits/structured_translation": (21, 4),
    "digits/unstructured_translation": (21, 3),
    "digits/hybrid_translation": (21, 4),
}


def init_args(config: str) -> dict:
    """The model settings a cell's files and overrides give (plain YAML merge, overrides last)."""
    args = cell_of(config)
    merged = merged_yaml(args)["model"].get("init_args") or {}
    for item in args:
        if item.startswith("--model.init_args.pairs."):
            key, value = item.removeprefix("--model.init_args.pairs.").split("=")
            merged.setdefault("pairs", {})[key] = float(value)
    return merged


@pytest.mark.parametrize("config", sorted(TRANSLATION_H_SSL))
def test_h_ssl_translation_distance_matches_the_a_ssl_range(config: str) -> None:
    """max_distance = the largest per-axis gap between two A-SSL views (2 x floor(0.2 x image)
    px), in cells of the encoder; the A-SSL sibling states max_shift_fraction 0.2."""
    image, stride = TRANSLATION_H_SSL[config]
    expected = 2 * math.floor(0.2 * image) / stride
    assert init_args(config)["pairs"]["max_distance"] == pytest.approx(expected, abs=0.005)
    folder, name = config.rsplit("/", 1)
    sibling = f"{folder}/augmentation_translation{'_unstructured' if name.endswith('_unstructured') else ''}"
    assert init_args(sibling)["max_shift_fraction"] == 0.2


# ----------------------------------------------------------------------------- the paper's recipe
@pytest.mark.parametrize("config", [c for c in CELLS if c.startswith("paper/")])
def test_paper_cells_keep_the_papers_loss_head_and_optimiser(config: str) -> None:
    """Pair objectives: NT-Xent tau 0.1 (and the ResNets' 512-2048-512 head); Frozen and
    Supervised: no pair loss; every paper cell: LARS lr 0.1 and the dataset's backbone."""
    merged = merged_yaml(cell_of(config))
    model = merged["model"]["init_args"]
    objective = config.split("/")[2].split("_")[0]
    dataset = config.split("/")[1]
    if objective in ("structured", "augmentation"):
        assert model["loss"] == {
            "class_path": "structured_ssl.ssl.losses.NTXent",
            "init_args": {"temperature": 0.1},
        }
        assert model.get("projector", [128, 128, 128]) == (
            [128, 128, 128] if dataset == "mnist" else [512, 2048, 512]
        )
    else:
        assert "loss" not in model and "projector" not in model
    assert model["optimizer"] == "../optimizer.yaml"
    assert (
        model["encoder"]["architecture"]
        == {"mnist": "paper_mnist", "cifar10": "paper_cifar", "tiny_imagenet": "paper_tiny"}[
            dataset
        ]
    )
