"""The device-resident training loader: the same batches in the same order as the DataLoader
path, the same saved position and resume, and per-rank shards that are disjoint."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from structured_ssl.data.device_loader import DeviceBatches
from structured_ssl.data.digits import DigitsDataModule
from structured_ssl.data.sampling import EpochSampler, ResumableDataLoader


def numbered(n: int) -> TensorDataset:
    """Image i is filled with i, so a batch tells which examples it holds."""
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return TensorDataset(images, torch.arange(n))


def loaders(
    dataset: TensorDataset,
    drop_last: bool,
    replicas: int = 1,
    rank: int = 0,
    epoch_batches: float = float("inf"),
) -> tuple[ResumableDataLoader, DeviceBatches]:
    def sampler() -> EpochSampler:
        return EpochSampler(dataset, num_replicas=replicas, rank=rank, seed=7, drop_last=drop_last)

    plain = ResumableDataLoader(
        dataset,
        sampler=sampler(),
        batch_size=8,
        drop_last=drop_last,
        epoch_batches=lambda: epoch_batches,
    )
    device = DeviceBatches(
        *dataset.tensors,
        sampler=sampler(),
        batch_size=8,
        drop_last=drop_last,
        epoch_batches=lambda: epoch_batches,
    )
    return plain, device


def test_same_batches_as_the_dataloader_in_every_epoch() -> None:
    for drop_last in (True, False):
        plain, device = loaders(numbered(45), drop_last)
        assert len(plain) == len(device) == (5 if drop_last else 6)
        firsts = []
        for epoch in (0, 3):
            plain.sampler.set_epoch(epoch), device.sampler.set_epoch(epoch)
            a, b = list(plain), list(device)
            assert len(a) == len(b) and all(
                torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
                for x, y in zip(a, b, strict=True)
            )
            firsts.append(b[0][1])
        assert not torch.equal(*firsts)  # the order depends on the epoch


def test_resume_continues_with_the_next_unseen_batch() -> None:
    dataset = numbered(64)
    _, straight = loaders(dataset, True, epoch_batches=6)
    straight.sampler.set_epoch(2)
    batches = [y for _, y in straight]
    _, partial = loaders(dataset, True, epoch_batches=6)
    partial.sampler.set_epoch(2)
    iterator = iter(partial)
    next(iterator), next(iterator), next(iterator)
    state = partial.state_dict()
    assert state == {"epoch": 2, "batches": 3}
    _, resumed = loaders(dataset, True, epoch_batches=6)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)  # what Lightning does before the resumed epoch
    rest = [y for _, y in resumed]
    assert len(rest) == 5 and all(torch.equal(a, b) for a, b in zip(rest, batches[3:], strict=True))
    assert resumed.state_dict() == {"epoch": 3, "batches": 0}  # past epoch_batches: the next epoch


def test_ranks_draw_disjoint_equal_shards_of_one_permutation() -> None:
    dataset = numbered(64)
    shards = []
    for rank in range(4):
        _, device = loaders(dataset, True, replicas=4, rank=rank)
        device.sampler.set_epoch(1)
        shards.append(torch.cat([y for _, y in device]).tolist())
    assert all(len(s) == 16 for s in shards)
    assert len(set().union(*map(set, shards))) == 64  # disjoint, and together every example once


def test_the_data_module_switch_serves_the_same_first_batch() -> None:
    plain = DigitsDataModule(batch_size=32, train_subset=200).train_dataloader()
    device = DigitsDataModule(
        batch_size=32, train_subset=200, device_resident=True
    ).train_dataloader()
    assert isinstance(device, DeviceBatches) and isinstance(plain, ResumableDataLoader)
    (x, y), (dx, dy) = next(iter(plain)), next(iter(device))
    assert torch.equal(x, dx) and torch.equal(y, dy)
