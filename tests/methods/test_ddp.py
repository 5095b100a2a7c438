"""Global-batch semantics under DDP: 2 processes x 16 images == 1 process x 32 images.

Loss and every parameter gradient (encoder, projector, probe) must match, for InfoNCE and
VICReg with both pair sources, with the methods' real view and fiber sampler: the two ranks
together draw what the single process draws, and rank 0 and rank 1 draw differently for
their i-th example. Runs Lightning's real ``ddp`` strategy on CPU (gloo).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "ddp_equivalence.py"


def run(tmp_path: Path, objective: str, loss: str, devices: int) -> dict:
    out = tmp_path / f"{objective}-{loss}-{devices}.pt"
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), objective, loss, str(devices)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = torch.load(out)
    result["draws"] = [torch.load(f"{out}.rank{r}.pt") for r in range(devices)]
    return result


def assert_ranks_draw_the_global_batch(single: list[dict], double: list[dict]) -> None:
    """Rank r's draws are rows [r B, (r + 1) B) of the single process's draws; ranks differ."""
    (whole,), (zero, one) = single, double
    assert whole.keys() == zero.keys() == one.keys() and whole
    for name, drawn in whole.items():
        if name == "images":  # A-SSL's augmented views, [view 1; view 2] per process
            halves = [d[name].chunk(2) for d in (zero, one)]
            joined = torch.cat(
                [torch.cat([h[0] for h in halves]), torch.cat([h[1] for h in halves])]
            )
        else:
            joined = torch.cat([zero[name], one[name]])
        torch.testing.assert_close(
            joined, drawn, msg=f"{name}: two ranks do not draw the single run's {name}"
        )
    differ = [name for name in whole if not torch.equal(zero[name], one[name])]
    assert differ == list(whole), (
        f"rank 0 and rank 1 draw the same {set(whole) - set(differ)} for their examples"
    )


@pytest.mark.parametrize("objective", ["structured", "augmentation"])
@pytest.mark.parametrize("loss", ["ntxent", "vicreg"])
def test_two_processes_equal_one_process_with_double_batch(
    tmp_path: Path, objective: str, loss: str
) -> None:
    single = run(tmp_path, objective, loss, 1)
    double = run(tmp_path, objective, loss, 2)
    assert_ranks_draw_the_global_batch(single["draws"], double["draws"])
    torch.testing.assert_close(double["loss"], single["loss"], rtol=1e-4, atol=1e-5)
    assert single["grads"].keys() == double["grads"].keys()
    assert any(name.startswith("encoder.") for name in single["grads"])
    for name, grad in single["grads"].items():
        # float32 sums in a different order: compare against the tensor's own scale
        error = float((double["grads"][name] - grad).abs().max())
        assert error <= 1e-4 * float(grad.abs().max()) + 1e-6, (
            f"{name}: max abs difference {error:.3g}"
        )


def test_cli_fit_with_ddp_on_two_cpu_processes(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    command = [
        str(Path(sys.executable).parent / "structured-ssl"),
        "fit",
        "--config",
        str(repo / "configs/default.yaml"),
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
        "--trainer.accelerator=cpu",
        "--trainer.sync_batchnorm=true",
        "--trainer.max_epochs=1",
        "--data.init_args.train_subset=256",
        "--data.init_args.batch_size=32",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "final val/probe_acc" in done.stdout
    assert list(tmp_path.rglob("last.ckpt"))
