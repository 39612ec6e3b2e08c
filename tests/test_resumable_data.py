"""The training loader's position and the CycleGAN image pool round-trip through their state dicts.

A loader restored from ``state_dict()`` taken after ``k`` batches of an epoch yields exactly the
batches the original yields after them, and the epochs that follow; each sample's random draws
depend on (seed, epoch, index) only - not on worker processes - and iterating leaves torch's global
generator alone. The end-to-end check (a real SIGTERM, then a resume) is tests/test_resume_equivalence.py.
"""

import pytest
import torch
from torch.utils.data import Dataset

from stylenorm.data.resumable import ResumableDataLoader
from stylenorm.tasks.image_pool import ImagePool


class IndexAndDraw(Dataset):
    """Item ``i``: its index and a draw from torch's generator, as a random crop would make."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"index": torch.tensor(index), "draw": torch.rand(())}


def loader(seed: int = 0, **options) -> ResumableDataLoader:
    return ResumableDataLoader(IndexAndDraw(), batch_size=3, seed=seed, drop_last=True, **options)


def epoch(data: ResumableDataLoader, number: int) -> list[dict[str, torch.Tensor]]:
    data.sampler.set_epoch(number)  # what Lightning does at each epoch's start
    return list(data)


def same_batches(first: list[dict], second: list[dict]) -> bool:
    if len(first) != len(second):
        return False
    return all(torch.equal(a[key], b[key]) for a, b in zip(first, second, strict=True) for key in ("index", "draw"))


def test_a_restored_loader_continues_mid_epoch_with_the_same_batches_and_draws():
    original = loader()
    epoch(original, 0)
    original.sampler.set_epoch(1)
    stream = iter(original)
    next(stream)  # one batch trained on, then the checkpoint
    state = original.state_dict()
    rest_of_epoch = list(stream)
    following = epoch(original, 2)

    restored = loader()
    restored.load_state_dict(state)
    assert state["epoch"] == 1 and state["batches"] == 1
    assert len(rest_of_epoch) == 2 and same_batches(list(restored), rest_of_epoch)
    assert same_batches(epoch(restored, 2), following)
    assert not same_batches(following, epoch(loader(seed=1), 2))  # the run's seed decides


def test_a_loader_restored_at_an_epoch_end_starts_the_next_epoch_from_its_first_batch():
    original = loader()
    epoch(original, 0)
    state = original.state_dict()
    restored = loader()
    restored.load_state_dict(state)
    assert same_batches(epoch(restored, 1), epoch(original, 1))
    assert len(epoch(restored, 1)) == 3


def test_epochs_differ_and_indices_are_drawn_once_per_epoch():
    data = loader()
    first, second = epoch(data, 0), epoch(data, 1)
    indices = torch.cat([batch["index"] for batch in first])
    assert len(set(indices.tolist())) == 9  # 10 items, batches of 3, the short last one dropped
    assert not same_batches(first, second)
    assert same_batches(first, epoch(data, 0))  # an epoch is a function of (seed, epoch)


def test_draws_do_not_depend_on_workers_and_leave_the_global_generator_alone():
    torch.manual_seed(3)
    before = torch.get_rng_state()
    in_process = epoch(loader(), 4)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(99)  # the workers' seeds come from the loader's own generator anyway
    assert same_batches(epoch(loader(num_workers=2), 4), in_process)


def test_each_rank_gets_its_own_share():
    shares = [torch.cat([b["index"] for b in epoch(loader(num_replicas=2, rank=rank), 0)]) for rank in (0, 1)]
    assert set(shares[0].tolist()).isdisjoint(shares[1].tolist())
    assert len(shares[0]) == len(shares[1]) == 3  # 5 items per rank, one batch of 3


def test_a_changed_data_stream_is_announced_on_resume():
    state = loader().state_dict()
    with pytest.warns(UserWarning, match=r"another training data stream .*seed 0 -> 1"):
        loader(seed=1).load_state_dict(state)


def test_a_restored_image_pool_makes_the_same_choices():
    def fakes(start: int, count: int) -> list[torch.Tensor]:
        return [torch.full((2, 3, 2, 2), float(i)) for i in range(start, start + count)]

    torch.manual_seed(0)
    pool = ImagePool(size=3)
    for images in fakes(0, 4):
        pool.query(images)
    state, generator = pool.state_dict(), torch.get_rng_state()
    expected = [pool.query(images) for images in fakes(4, 6)]

    torch.set_rng_state(generator)  # restored by the random-state callback on resume
    restored = ImagePool(size=3)
    restored.load_state_dict(state)
    again = [restored.query(images) for images in fakes(4, 6)]
    assert all(torch.equal(a, b) for a, b in zip(again, expected, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(expected, fakes(4, 6), strict=True))  # stored fakes came back
