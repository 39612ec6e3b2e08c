"""The ablation report on a tiny real sweep: table, picture, CSV, TensorBoard layout, errors.

Three autoencoder runs (instance, batch, instance without affine) go through the same path as
``python train.py`` once per module; every test reads the same LOGDIR.
"""

import csv
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2

from conftest import REPO_ROOT
from stylenorm.report import (
    LAYOUT_DIR,
    ReportError,
    collect_runs,
    custom_scalars_layout,
    higher_is_better,
    identity_from_folder,
    write_layout,
)
from stylenorm.report.cli import main
from stylenorm.report.picture import picture_rows
from stylenorm.run_naming import VERSION_ENV
from stylenorm.train import run

SWEEP = [("instance", []), ("batch", []), ("instance", ["norm.affine=false"])]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    for kind, extra in SWEEP:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(VERSION_ENV, raising=False)  # each run picks its own version
            with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
                cfg = compose(
                    "train",
                    overrides=[
                        "model=autoencoder",
                        f"norm={kind}",
                        *extra,
                        f"paths.data_dir={root / 'data'}",
                        f"paths.log_dir={root / 'logs'}",
                        f"paths.checkpoint_dir={root / 'checkpoints'}",
                        "data.image_size=32",
                        "data.batch_size=4",
                        "model.network.base_channels=8",
                        "trainer.accelerator=cpu",
                        "trainer.enable_progress_bar=false",
                        "trainer.num_sanity_val_steps=0",
                        "trainer.limit_val_batches=1",
                        "trainer.max_steps=6",
                        "trainer.val_check_interval=1.0",
                        "+trainer.limit_train_batches=3",
                        "trainer.log_every_n_steps=1",
                    ],
                )
            run(cfg)
    (root / "logs" / "hydra" / "x").mkdir(parents=True)  # Hydra's own output must be ignored
    return root / "logs"


@pytest.fixture(scope="module")
def report(logdir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main([str(logdir), "--out", str(out)]) == 0
    return out


def table(markdown: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]  # header, rows (the --- line skipped)


def test_direction_rule():
    for tag in ("val/psnr", "val/ssim_AtoB", "val/psnr_identity_baseline", "val/PSNR"):
        assert higher_is_better(tag), tag
    for tag in ("train/loss", "val/loss", "val/cycle_l1", "val/content", "val/style", "train/G", "val/gap"):
        assert not higher_is_better(tag), tag


def test_identity_from_folder_name():
    identity = identity_from_folder("autoencoder/group-affine_true,num_groups=8,batch_size=2/version_3")
    assert identity["model"] == "autoencoder"
    assert identity["norm_kind"] == "group"
    assert identity["affine"] is True
    assert identity["batch_size"] == 2
    assert identity["extras"] == {"num_groups": "8", "batch_size": "2"}
    assert identity_from_folder("cyclegan/sync_batch-affine_false/version_0")["norm_kind"] == "sync_batch"
    assert identity_from_folder("somewhere/else") == {}


def test_one_row_per_run_with_its_norm_and_final_values(logdir):
    runs = collect_runs(logdir)
    assert [(r.model, r.norm_kind, r.affine) for r in runs] == [
        ("autoencoder", "batch", True),
        ("autoencoder", "instance", False),
        ("autoencoder", "instance", True),
    ]
    for r in runs:
        assert (r.batch_size, r.image_size, r.steps) == (4, 32, 6)
        assert r.grid_tag == "val/input_output"
        assert all(math.isfinite(r.metrics[tag]) for tag in ("val/psnr", "val/ssim", "val/loss", "train/loss"))
    assert not any(r.name.startswith((".", "hydra")) for r in runs)


def test_markdown_marks_the_real_best_per_column(logdir, report):
    runs = collect_runs(logdir)
    header, rows = table((report / "ablation.md").read_text())
    assert len(rows) == len(SWEEP)
    assert [row[header.index("norm")] for row in rows] == ["batch", "instance", "instance"]
    assert [row[header.index("affine")] for row in rows] == ["True", "False", "True"]
    metric_headers = [h for h in header if h.startswith(("val/", "train/"))]
    assert {"val/psnr ↑", "val/ssim ↑", "val/loss ↓", "train/loss ↓"} <= set(metric_headers)
    for name in metric_headers:
        tag = name.rsplit(" ", 1)[0]
        values = [r.metrics[tag] for r in runs]
        best = max(values) if higher_is_better(tag) else min(values)
        column = [row[header.index(name)] for row in rows]
        bold = [i for i, cell in enumerate(column) if re.fullmatch(r"\*\*.+\*\*", cell)]
        assert bold and all(values[i] == best for i in bold), (name, column, values)


def test_csv_has_the_raw_numbers(logdir, report):
    runs = collect_runs(logdir)
    with (report / "ablation.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["run"] for row in rows] == [r.name for r in runs]
    assert [float(row["val/psnr"]) for row in rows] == [r.metrics["val/psnr"] for r in runs]


def test_picture_has_one_labelled_panel_per_run(logdir, report):
    runs = collect_runs(logdir)
    assert picture_rows(runs) == [runs]  # one model, fewer runs than columns: a single row
    grids = [Image.open(io.BytesIO(r.grid_png)) for r in runs]
    picture = Image.open(report / "ablation.png")
    gaps = 4 * (len(runs) - 1)
    assert picture.width == sum(g.width for g in grids) + gaps
    assert picture.height > max(g.height for g in grids)  # the label strip sits above
    # The picture ends with the last run's grid at native size.
    last = grids[-1].convert("RGB")
    crop = picture.convert("RGB").crop(
        (picture.width - last.width, picture.height - last.height, picture.width, picture.height)
    )
    assert crop.tobytes() == last.tobytes()


def test_layout_groups_val_and_train_tags(logdir, report):
    files = list((logdir / LAYOUT_DIR).glob("events.out.tfevents.*"))
    assert len(files) == 1
    accumulator = EventAccumulator(str(files[0].parent), size_guidance={"tensors": 0})
    accumulator.Reload()
    assert "custom_scalars__config__" in accumulator.PluginTagToContent("custom_scalars")
    (event,) = accumulator.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(event.tensor_proto.string_val[0])
    charts = {c.title: [chart.title for chart in c.chart] for c in layout.category}
    assert "val/psnr" in charts["val"] and "train/loss" in charts["train"]
    psnr = next(chart for chart in layout.category[0].chart if chart.title == "val/psnr")
    assert list(psnr.multiline.tag) == ["^val/psnr$"]
    # Writing again replaces the layout, and the layout run is not taken for a training run.
    write_layout(logdir, ["val/psnr"])
    assert len(list((logdir / LAYOUT_DIR).glob("events.out.tfevents.*"))) == 1
    assert len(collect_runs(logdir)) == len(SWEEP)


def test_layout_keeps_only_val_and_train():
    layout = custom_scalars_layout(["val/psnr", "train/loss", "lr-Adam", "epoch"])
    assert layout == {
        "val": {"val/psnr": ["Multiline", ["^val/psnr$"]]},
        "train": {"train/loss": ["Multiline", ["^train/loss$"]]},
    }


def test_wrong_logdir_exits_2_with_a_message(tmp_path):
    missing = tmp_path / "no_such_logs"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "ablation_report.py"), str(missing), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr and "events.out.tfevents" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "empty" / "hydra").mkdir(parents=True)
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(ReportError, match="holds no run"):
        collect_runs(tmp_path / "empty")
