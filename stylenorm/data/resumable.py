"""A training loader that a checkpoint can stop and resume mid-epoch, drawing what the run never stopped would:
order seeded by ``(seed, epoch)``, augmentation by ``(seed, epoch, index)``. How and why: docs/modules.md.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from stylenorm.data.known_answer import stable_seed


class SeededSamples(Dataset):
    """``dataset[index]`` for the sampler's ``(index, seed)``, torch's generator seeded by ``seed`` meanwhile (the
    transforms draw from it only); its state outside is restored, so the run's own stream is undisturbed."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: torch.manual_seed would also queue a CUDA/XPU/MTIA seed call per
            # sample, formatting a stack trace each time (half of a small run's loading time)
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]


class ResumableSampler(DistributedSampler):
    """``DistributedSampler``'s order as ``(index, seed)`` items, less the first ``skip`` of the epoch; seeded by a
    hash of the run's seed, as ``seed + epoch`` would give run seed 1 the order of run seed 0 one epoch later."""

    def __init__(self, dataset: Dataset, *, seed: int, shuffle: bool = True, num_replicas: int = 1, rank: int = 0):
        order_seed = stable_seed("data order", seed)
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=order_seed)
        self.run_seed = seed
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:  # a resumed epoch's skip ends with it
            self.skip = 0
        super().set_epoch(epoch)

    def __iter__(self):
        epoch, skip = self.epoch, self.skip
        self.skip = 0
        for position, index in enumerate(super().__iter__()):
            if position >= skip:
                yield index, stable_seed("training sample", self.run_seed, epoch, index)


class ResumableDataLoader(DataLoader):
    """A shuffled training DataLoader whose position (epoch, batches delivered) Lightning checkpoints."""

    def __init__(
        self, dataset: Dataset, *, batch_size: int, seed: int, num_replicas: int = 1, rank: int = 0, **kwargs: Any
    ) -> None:
        sampler = ResumableSampler(dataset, seed=seed, num_replicas=num_replicas, rank=rank)
        super().__init__(
            SeededSamples(dataset),
            batch_size=batch_size,
            sampler=sampler,
            generator=torch.Generator().manual_seed(seed),  # worker seeds; never the global generator
            **kwargs,
        )
        self.epoch, self.delivered = 0, 0

    def __iter__(self):
        # A generator, so the DataLoader's iterator (and its workers' first requests) starts at the
        # first batch asked for: after Lightning's set_epoch, and after load_state_dict on resume.
        self.epoch, self.delivered = self.sampler.epoch, self.sampler.skip // self.batch_size
        for batch in super().__iter__():
            self.delivered += 1
            yield batch

    def _stream(self) -> dict[str, int]:
        """What decides the images drawn besides the position."""
        sampler: ResumableSampler = self.sampler
        return {"seed": sampler.run_seed, "dataset_size": len(self.dataset), "num_replicas": sampler.num_replicas}

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches": self.delivered, **self._stream()}

    def load_state_dict(self, state: dict[str, int]) -> None:
        changed = [
            f"{key} {state[key]} -> {value}" for key, value in self._stream().items() if state.get(key, value) != value
        ]
        if changed:
            rank_zero_warn(
                f"Resuming with another training data stream than the checkpoint's run ({', '.join(changed)}): "
                f"its epoch {state['epoch']} continues after {state['batches']} batches, but not with the images "
                f"the run would have seen. Same data folder, seed and devices resume exactly."
            )
        self.epoch, self.delivered = int(state["epoch"]), int(state["batches"])
        self.sampler.set_epoch(self.epoch)
        self.sampler.skip = self.delivered * self.batch_size
