"""``torch.compile`` and channels-last on the training step of each encoder family.

The S-SSL training step (fiber pairs, encoder forward, projector, loss, backward, AdamW) of
the ``small`` translation CNN, escnn C4 rotation encoder and scale encoder, batch 128, in
four variants: eager; channels-last (module and input in ``torch.channels_last``);
``torch.compile`` of the encoder (default inductor; escnn's ``GeometricTensor`` wrapping
breaks the graph, so escnn compiles in pieces); both. Reports median step time after
warm-up, the speed-up against eager, and the one-off compile time (the first steps).

    python benchmarks/compile_memory_format.py [--groups translation rotation scale] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import device, machine, table, time_it  # noqa: E402

from structured_ssl.groups import Group  # noqa: E402
from structured_ssl.methods import StructuredSSL  # noqa: E402

GROUPS = {
    "translation": Group("translation"),
    "rotation": Group("rotation", 4),
    "scale": Group("scale"),
}
VARIANTS = {
    "eager": (False, False),
    "channels-last": (True, False),
    "compile": (False, True),
    "compile + channels-last": (True, True),
}


def step_seconds(
    group: Group, channels_last: bool, compiled: bool, repeats: int
) -> tuple[float, float]:
    """(median step seconds, seconds of the first step: compilation included)."""
    torch.manual_seed(0)
    model = StructuredSSL(group=group).to(device()).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if compiled:
        model.encoder = torch.compile(model.encoder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(128, 1, 21, 21, device=device()).contiguous(memory_format=fmt)

    def step() -> None:
        terms, _ = model.ssl_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    return time_it(step, repeats=repeats, warmup=1), first


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name in args.groups:
        eager = None
        for variant in args.variants:
            try:
                seconds, first = step_seconds(
                    GROUPS[name], *VARIANTS[variant], repeats=args.repeats
                )
            except Exception as error:  # noqa: BLE001 - a variant that fails is a table row, not a crash
                rows.append(
                    [
                        name,
                        variant,
                        "fails",
                        "-",
                        f"{type(error).__name__}: {str(error).splitlines()[0][:80]}",
                    ]
                )
                continue
            eager = seconds if variant == "eager" else eager
            ratio = f"{eager / seconds:.2f}x" if eager else "-"
            rows.append([name, variant, f"{seconds * 1000:.0f}", ratio, f"{first:.1f}"])
    print(
        f"## torch.compile and channels-last: S-SSL training step, batch 128, 21x21, `small` encoders\n{machine()}\n"
    )
    print(
        table(
            ["encoder family", "variant", "step ms", "speed-up vs eager", "first step s (compile)"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
