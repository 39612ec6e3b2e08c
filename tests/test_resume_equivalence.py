"""A run stopped by SIGTERM and resumed from its last.ckpt is the run it continues (fp32, same machine).

Same data order, same crops and flips, same CycleGAN image pool, optimizer, scheduler and random
streams: the resumed run ends with bit-identical weights and logs the same validation metrics as
the run that was never stopped. Issue 26 item 4: 300 steps gave val/psnr 16.125 straight through
and 15.380 when stopped at step 86 and resumed.
"""

from collections import defaultdict
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_offline_run
from stylenorm import train
from stylenorm.resume import EXIT_SIGTERM

pytestmark = pytest.mark.integration

#: Tiny fp32 single-thread runs; epochs of 4 batches so that a few dozen steps cross several epochs,
#: random crops and flips on, one validation per epoch.
COMMON = (
    "trainer.precision=32-true",
    "speed.num_threads=1",
    "speed.compile=false",
    "data.image_size=32",
    "+trainer.limit_train_batches=4",
    "trainer.val_check_interval=1.0",
    "trainer.log_every_n_steps=1",
)
TINY = {
    "autoencoder": ("model=autoencoder", "model.network.base_channels=8", "data.batch_size=4"),
    # pool_size 3 fills within the run, so the pool's random swaps are exercised; the learning rate
    # decays from epoch 1 on, so the schedulers' state matters too
    "cyclegan": (
        "model=cyclegan", "model.generator.ngf=8", "model.generator.n_blocks=2", "model.discriminator.ndf=8",
        "data.load_size=40", "model.pool_size=3", "model.n_epochs=1", "model.n_epochs_decay=4",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def tasks(monkeypatch) -> list:
    """Every task ``train.run`` builds, in order, to read its final weights."""
    built, build = [], train.build

    def keeping_build(cfg):
        datamodule, model, trainer = build(cfg)
        built.append(model)
        return datamodule, model, trainer

    monkeypatch.setattr(train, "build", keeping_build)
    return built


def compose(root: Path, data_dir: Path, model: str, *overrides: str):
    return compose_offline_run(root, *TINY[model], *COMMON, *overrides, data_dir=data_dir)


def flat_tensors(state, prefix: str = "") -> dict[str, object]:
    """Every leaf of a nested state dict (tensors, numbers, ...) by its dotted path."""
    if isinstance(state, dict):
        return {k: v for key, item in state.items() for k, v in flat_tensors(item, f"{prefix}{key}.").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, item in enumerate(state) for k, v in flat_tensors(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): state}


def assert_same_state(what: str, expected, actual) -> None:
    expected, actual = flat_tensors(expected), flat_tensors(actual)
    assert expected.keys() == actual.keys(), what
    same = [torch.equal(v, actual[k]) if isinstance(v, torch.Tensor) else v == actual[k] for k, v in expected.items()]
    differing = [key for key, equal in zip(expected, same, strict=True) if not equal]
    assert not differing, f"{what}: {len(differing)} of {len(expected)} entries differ, e.g. {differing[:3]}"


def assert_same_training_state(expected, actual) -> None:
    """Weights and buffers bit for bit, optimizer moments, learning-rate schedules and image pools."""
    assert_same_state("weights", expected.state_dict(), actual.state_dict())
    for name in ("optimizers", "lr_scheduler_configs"):
        for before, after in zip(getattr(expected.trainer, name), getattr(actual.trainer, name), strict=True):
            optimizer_or_scheduler = (before, after) if name == "optimizers" else (before.scheduler, after.scheduler)
            assert_same_state(name, *(item.state_dict() for item in optimizer_or_scheduler))
    for pool in ("pool_A", "pool_B"):
        if hasattr(expected, pool):
            assert_same_state(pool, getattr(expected, pool).state_dict(), getattr(actual, pool).state_dict())


def validation_scalars(logs: Path) -> dict[tuple[str, int], set[float]]:
    """Every ``val/`` value in the TensorBoard files under ``logs``, by (tag, step); NaN as the string 'nan'."""
    logged = defaultdict(set)
    for folder in {path.parent for path in logs.rglob("events.out.tfevents.*")}:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            if tag.startswith("val/"):
                for event in events.Scalars(tag):
                    logged[tag, event.step].add(event.value if event.value == event.value else "nan")
    return dict(logged)


@pytest.mark.parametrize(
    ("model", "steps", "stop_at"),
    [
        ("autoencoder", 14, 6),  # mid-epoch: epoch 1, batch 2 of 4
        ("autoencoder", 14, 8),  # an epoch's last batch: saved after the epoch ended
        ("cyclegan", 20, 10),  # mid-epoch (G and D: 2 optimizer steps per batch)
        ("cyclegan", 20, 16),  # an epoch's last batch; the learning rate decays per epoch
    ],
)
def test_a_resumed_run_equals_the_run_never_stopped(tmp_path, data_dir, tasks, model, steps, stop_at):
    length = f"trainer.max_steps={steps}"
    straight = train.run(compose(tmp_path / "straight", data_dir, model, length))

    stopped = tmp_path / "stopped"
    sigterm = ("+callbacks.stop._target_=stop_at_step.SigtermAtStep", f"+callbacks.stop.step={stop_at}")
    with pytest.raises(SystemExit) as stop:
        train.run(compose(stopped, data_dir, model, length, *sigterm))
    assert stop.value.code == EXIT_SIGTERM
    (last,) = (stopped / "checkpoints").rglob("last.ckpt")
    assert torch.load(last, weights_only=True)["global_step"] == stop_at

    resumed = train.run(compose(stopped, data_dir, model, length, f"ckpt_path={last}"))

    straight_task, _, resumed_task = tasks
    assert straight_task.global_step == resumed_task.global_step == steps
    assert_same_training_state(straight_task, resumed_task)
    if model == "cyclegan":  # the pool was full and the learning rate had decayed: both were exercised
        assert len(resumed_task.pool_A.images) == 3
        assert resumed_task.trainer.optimizers[0].param_groups[0]["lr"] < 2e-4
    final = {key: value for key, value in straight.items() if key.startswith("val/")}
    assert final and {key: resumed[key] for key in final} == final
    expected = validation_scalars(tmp_path / "straight" / "logs")
    logged = validation_scalars(stopped / "logs")  # the stopped run's curve, then the resumed run's
    assert logged.keys() == expected.keys()
    assert all(len(values) == 1 for values in expected.values())
    assert logged == expected


@pytest.mark.parametrize(("model", "steps", "every"), [("autoencoder", 10, 4), ("cyclegan", 14, 8)])
def test_a_run_resumed_from_a_periodic_checkpoint_equals_the_run_never_stopped(
    tmp_path, data_dir, tasks, model, steps, every
):
    """The step checkpoint at the end of epoch 0's last batch is written before the epoch's validation
    and end hooks (CycleGAN's learning rate decays from there on)."""
    length, periodic = f"trainer.max_steps={steps}", f"callbacks.model_checkpoint.every_n_train_steps={every}"
    train.run(compose(tmp_path / "straight", data_dir, model, length, periodic))
    (checkpoint,) = (tmp_path / "straight" / "checkpoints").rglob(f"step{every:07d}.ckpt")
    train.run(compose(tmp_path / "resumed", data_dir, model, length, periodic, f"ckpt_path={checkpoint}"))
    straight_task, resumed_task = tasks
    assert resumed_task.global_step == steps
    assert_same_training_state(straight_task, resumed_task)
