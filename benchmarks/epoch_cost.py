"""Cost per training step: augmentation vs structured vs unstructured, per group.

Same encoder, same batch, same loss; samples/s of a full training step (pair making,
forward, loss, backward, optimizer step) and the process's peak memory. Each cell runs in
its own process so peak memory is the cell's own. Target: structured step time <= 0.6x the
augmentation step time for the same encoder (physical limit ~0.5x: one forward/backward
instead of two).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import device, machine, peak_memory_mb, reset_peak, table, time_it  # noqa: E402

GROUPS = {"rotation": {"kind": "rotation", "order": 8}, "dihedral": {"kind": "dihedral", "order": 4},
          "translation": {"kind": "translation"}, "scale": {"kind": "scale"}}
OBJECTIVES = ("augmentation", "structured", "unstructured")


def measure(group_name: str, objective: str, batch: int = 128) -> dict:
    from structured_ssl.encoders import EncoderSpec
    from structured_ssl.groups import Group
    from structured_ssl.methods import AugmentationSSL, StructuredSSL

    torch.manual_seed(0)
    cls = AugmentationSSL if objective == "augmentation" else StructuredSSL
    spec = EncoderSpec(structured=objective != "unstructured")
    model = cls(group=Group(**GROUPS[group_name]), encoder=spec).to(device()).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 21, 21, device=device())

    def step() -> None:
        terms, _ = model.ssl_terms(x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    reset_peak()
    seconds = time_it(step, repeats=5, warmup=2)
    return {"group": group_name, "objective": objective, "step_s": seconds, "samples_per_s": batch / seconds,
            "peak_mb": peak_memory_mb(), "params": model.encoder.num_parameters()}


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))
        return
    results = {}
    for group in GROUPS:
        for objective in OBJECTIVES:
            out = subprocess.run([sys.executable, __file__, group, objective], capture_output=True, text=True, check=True)
            results[group, objective] = json.loads(out.stdout.strip().splitlines()[-1])
    rows = []
    for group in GROUPS:
        aug = results[group, "augmentation"]["step_s"]
        for objective in OBJECTIVES:
            r = results[group, objective]
            rows.append([group, objective, r["params"], f"{r['step_s'] * 1000:.0f}", f"{r['samples_per_s']:.0f}",
                         f"{r['peak_mb']:.0f}", f"{r['step_s'] / aug:.2f}"])
    print(f"## Training step cost per group (batch 128, 21x21 digits)\n{machine()}\n")
    print(table(["group", "objective", "encoder params", "step ms", "samples/s", "peak MB", "time / A-SSL"], rows))


if __name__ == "__main__":
    main()
