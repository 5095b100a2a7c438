"""Reading TensorBoard runs: where they are, their scalars and what they trained.

A run is a directory holding event files (``<save_dir>/<name>/<version>``). Its scalars are
read with TensorBoard's own reader (``EventAccumulator``), its identity (objective, group,
loss, seed) from the ``config.yaml`` LightningCLI saved next to the events (or, failing that,
``hparams.yaml``). A ``<version>-test`` directory (the grid's test stage) is merged into its
``<version>`` run. Shared by the comparison table
([`structured_ssl.reporting.compare`][structured_ssl.reporting.compare]) and the accuracy-time
figure ([`structured_ssl.reporting.accuracy_time`][structured_ssl.reporting.accuracy_time]), so
neither imports the other's reader. Nothing here imports torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from structured_ssl.config.field_checks import ConfigError
from structured_ssl.config.yaml_reading import read_yaml_config
from structured_ssl.groups import short_name_of

EVENT_GLOB = "events.out.tfevents.*"
TEST_SUFFIX = "-test"


@dataclass(frozen=True)
class Point:
    """One scalar event."""

    step: int
    wall_time: float
    value: float


def fit_run_of(directory: Path) -> Path | None:
    """For a ``<version>-test`` directory, its ``<version>`` sibling (else None)."""
    name = directory.name
    if not name.endswith(TEST_SUFFIX) or name == TEST_SUFFIX:
        return None
    return directory.with_name(name[: -len(TEST_SUFFIX)])


def find_runs(logdir: Path) -> list[list[Path]]:
    """Run directories under ``logdir``, each with the ``-test`` sibling merged into it."""
    directories = sorted({p.parent for p in Path(logdir).rglob(EVENT_GLOB)})
    runs: dict[Path, list[Path]] = {}
    for directory in directories:
        fit = fit_run_of(directory)
        if fit is None or fit not in directories:
            runs.setdefault(directory, []).insert(0, directory)
        else:
            runs.setdefault(fit, []).append(directory)
    return [runs[d] for d in sorted(runs)]


class EventFileError(ValueError):
    """A file named like a TensorBoard event file that holds no readable event."""


def check_event_file(path: Path) -> None:
    """Refuse, naming it, a non-empty file whose first record is unreadable.

    TensorBoard's reader silently skips what it cannot parse (a run still writing may end in a
    partial record), so a corrupt or foreign file would otherwise become an empty row. Only
    the first record is read; events are plain protobuf data, so reading runs no code.
    """
    from google.protobuf.message import DecodeError
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    if path.stat().st_size == 0:
        return  # a logger that has not flushed yet
    try:
        first = next(iter(EventFileLoader(str(path)).Load()), None)
    except DecodeError as err:
        raise EventFileError(f"{path}: not a TensorBoard event file ({err})") from None
    if first is None:
        raise EventFileError(
            f"{path}: not a TensorBoard event file (its first record is unreadable); "
            "move or delete it to compare the other runs"
        )


def read_scalars(directory: Path) -> tuple[dict[str, list[Point]], float | None]:
    """All scalars of one event directory (every file in it, no sampling) and the wall time
    of its first event (when the logger started)."""
    from google.protobuf.message import DecodeError
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for path in sorted(directory.glob(EVENT_GLOB)):
        check_event_file(path)

    guidance = {
        "scalars": 0,
        "images": 1,
        "audio": 1,
        "histograms": 1,
        "tensors": 1,
        "compressedHistograms": 1,
    }
    events = EventAccumulator(str(directory), size_guidance=guidance)
    try:
        events.Reload()
    except DecodeError as err:  # a corrupt record after a readable first one
        raise EventFileError(
            f"{directory}: holds a corrupt TensorBoard event file ({err})"
        ) from None
    scalars = {
        tag: [Point(int(e.step), float(e.wall_time), float(e.value)) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
    }
    try:
        first = float(events.FirstEventTimestamp())
    except ValueError:  # no events at all
        first = None
    return scalars, first


def read_yaml(path: Path) -> dict[str, Any]:
    """A run's saved YAML, read strictly (`read_yaml_config`); an unreadable one (binary,
    another encoding, an alias bomb) is named on stderr and read as empty: the run is still
    listed, with what its other files say."""

    if not path.is_file():
        return {}
    try:
        data = read_yaml_config(path)
    except ConfigError as error:
        print(f"note: {' '.join(str(error).split())}: not used", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def short_class(path: Any) -> str:
    return str(path).rsplit(".", 1)[-1]


def group_label(group: Any, encoder: Any) -> str:
    """``C8``, ``D4``, ``T``, ``S6``, with ``-unstructured`` for the structure-free twin."""
    if not isinstance(group, dict):
        return "-"
    label = short_name_of(group)  # the plug-in's name
    if isinstance(encoder, dict) and encoder.get("structured") is False:
        label += "-unstructured"
    return label


class RunIdentity(TypedDict):
    """What [`identity`][structured_ssl.reporting.run_reading.identity] reads of a run (``"-"``
    where unknown)."""

    objective: str
    group: str
    loss: str
    seed: str


def identity(directory: Path) -> RunIdentity:
    """Objective, group, loss and seed from the run's saved config (or hparams.yaml)."""
    config = read_yaml(directory / "config.yaml")
    for other in sorted(directory.glob("config-*.yaml")):  # a test-only run: config-test.yaml
        config = config or read_yaml(other)
    model = config.get("model") or {}
    args = (model.get("init_args") or {}) if isinstance(model, dict) else {}
    hparams = read_yaml(directory / "hparams.yaml")
    if not args and hparams:
        args = hparams
    class_path = model.get("class_path") if isinstance(model, dict) else None
    objective = short_class(class_path or hparams.get("_class_path") or "-")
    loss = args.get("loss")
    if isinstance(loss, dict):
        loss_name = short_class(loss.get("class_path", "-"))
    else:
        loss_name = "NTXent" if args.get("group") is not None else "-"  # SSLMethod's default
    seed = config.get("seed_everything")
    found: RunIdentity = {
        "objective": objective,
        "group": group_label(args.get("group"), args.get("encoder")),
        "loss": loss_name,
        "seed": "-" if seed is None else str(seed),
    }
    checkpoint = args.get("checkpoint")
    if objective == "LinearEval" and checkpoint:
        pretrained = identity(Path(str(checkpoint)).parent.parent)  # <run>/checkpoints/x.ckpt
        features = args.get("features", "invariant")
        found = {**pretrained, "objective": f"LinearEval({pretrained['objective']}, {features})"}
    return found


def finish_figure(figure: Any, path: str | Path | None) -> Any:
    """Lay the figure out and, when ``path`` is given, save it there (folders made)."""
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    return figure
