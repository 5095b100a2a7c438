"""The anchor row of benchmarks/gpu.py: a plain torchvision ResNet-18 SimCLR step.

Why: a paper cell's images/s means little alone; beside the step a user would write instead
(ResNet-18 with the CIFAR stem, two views, NT-Xent, SGD, 32 px) it says how far the library's
backbones are from what the same GPU does for an ordinary network, in NCHW and channels-last.
Needs torchvision; without it :func:`anchor_rows` returns no rows and a printed note.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def simclr_anchor(device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool) and a 512-2048-128 projector."""
    import torchvision

    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    net.fc = torch.nn.Identity()
    head = torch.nn.Sequential(
        torch.nn.Linear(512, 2048),
        torch.nn.BatchNorm1d(2048),
        torch.nn.ReLU(),
        torch.nn.Linear(2048, 128),
    )
    return net.to(device).train(), head.to(device).train()


def nt_xent(z: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's loss on ``[z1; z2]``: each view's positive is the other view of its image."""
    z = F.normalize(z.float(), dim=1)
    n = z.shape[0] // 2
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, target)


def anchor_step(
    device: torch.device, batch: int, channels_last: bool, size: int = 32
) -> Callable[[], torch.Tensor]:
    """One SimCLR step (two views of ``batch`` images) as a closure; the model is built once."""
    net, head = simclr_anchor(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    optimizer = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.1, momentum=0.9)
    views = torch.rand(2 * batch, 3, size, size, device=device).contiguous(memory_format=fmt)

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = nt_xent(head(net(views)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def anchor_rows(
    device: torch.device, batch: int, steps: int, warmup: int
) -> tuple[list[dict], str | None]:
    """Rows for NCHW and channels-last, or no rows and the reason (torchvision does not import)."""
    try:
        import torchvision  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any import failure means: no anchor on this machine
        return (
            [],
            f"anchor skipped: torchvision does not import ({type(error).__name__}: {str(error)[:80]})",
        )
    rows = []
    for channels_last in (False, True):
        step = anchor_step(device, batch, channels_last)
        for _ in range(warmup):
            step()
        with FlopCounterMode(display=False) as counter:
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter() - start) / steps
        rows.append(
            {
                "name": f"anchor ResNet-18 SimCLR, {'channels-last' if channels_last else 'NCHW'}",
                "batch": batch,
                "step_images_per_s": batch / seconds,
                "step_flops": float(counter.get_total_flops()),
                "loss": float(loss),
            }
        )
    return rows, None
