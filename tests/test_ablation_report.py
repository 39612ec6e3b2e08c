"""The ablation report on a tiny real sweep: statistics over seeds, curves, tables, picture, layout.

Four autoencoder runs (instance and batch norm, seeds 0 and 1) go through the same path as
``python train.py`` once per module; every test reads the same LOGDIR, and the numbers of the
report are checked against the event files read here, independently of the report's code. Tests
that need a crashed run, a NaN, the ablation protocol or a batch-size sweep edit a copy of LOGDIR.
"""

import csv
import io
import math
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from scipy import stats as scipy_stats
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from torch.utils.tensorboard import SummaryWriter

from conftest import REPO_ROOT, train_tiny_autoencoder
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
from stylenorm.report.convergence import RULE as CONVERGENCE_RULE
from stylenorm.report.picture import picture_rows
from stylenorm.report.variants import group_variants

SWEEP = [(kind, seed) for kind in ("instance", "batch") for seed in (0, 1)]
T_975_DF1 = 12.706205  # two-sided 95% Student t quantile, 1 degree of freedom (printed tables)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    # One thread: the networks are tiny, and on a shared CPU two threads mostly wait for each other
    # (a run took 4-8x longer with two on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_sweep(root)
    finally:
        torch.set_num_threads(threads)
    (root / "logs" / "hydra" / "x").mkdir(parents=True)  # Hydra's own output must be ignored
    return root / "logs"


def _train_sweep(root: Path) -> None:
    for kind, seed in SWEEP:
        train_tiny_autoencoder(root, kind, f"seed={seed}", "trainer.max_steps=6")


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


def run_dirs(logdir: Path) -> list[Path]:
    """The run folders, found here without the report's code."""
    folders = {events.parent for events in logdir.rglob("events.out.tfevents.*")}
    return sorted(f for f in folders if f.relative_to(logdir).parts[0] not in ("hydra", LAYOUT_DIR))


def read_scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    events = sorted(accumulator.Scalars(tag), key=lambda event: (event.step, event.wall_time))
    return [(event.step, event.value) for event in events]


def finals_by_kind(logdir: Path, tag: str) -> dict[str, list[float]]:
    """{norm kind (from the folder name): [last finite value of ``tag`` per run]}."""
    by_kind: dict[str, list[float]] = {}
    for folder in run_dirs(logdir):
        kind = folder.relative_to(logdir).parts[1].split("-")[0]
        by_kind.setdefault(kind, []).append([v for _, v in read_scalars(folder, tag) if math.isfinite(v)][-1])
    return by_kind


def csv_rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}\n")[1].split("\n## ")[0]


def edit_hparams(run_dir: Path, changes: dict) -> None:
    path = run_dir / "hparams.yaml"
    hparams = yaml.safe_load(path.read_text())
    hparams.update(changes)
    path.write_text(yaml.safe_dump(hparams, sort_keys=False))


def test_runs_are_read_with_seed_status_and_series(logdir):
    runs = collect_runs(logdir)
    assert [(r.model, r.norm_kind, r.seed) for r in runs] == [
        ("autoencoder", "batch", 0),
        ("autoencoder", "batch", 1),
        ("autoencoder", "instance", 0),
        ("autoencoder", "instance", 1),
    ]
    for r in runs:
        assert (r.batch_size, r.image_size, r.steps, r.status) == (4, 32, 6, "finished")
        assert r.grid_tag == "val/input_output"
        assert all(math.isfinite(r.metrics[tag]) for tag in ("val/psnr", "val/ssim", "val/loss", "train/loss"))
        # The whole series, one value per step (the last logged), NaN placeholder included.
        np.testing.assert_equal(r.series["val/psnr"], sorted(dict(read_scalars(r.path, "val/psnr")).items()))
    assert not any(r.name.startswith((".", "hydra")) for r in runs)
    assert [len(v.runs) for v in group_variants(runs)] == [2, 2]  # seeds of one configuration: one variant


def test_seed_falls_back_to_config_yaml(logdir, tmp_path):
    source = run_dirs(logdir)[0]
    copy = tmp_path / "logs" / source.relative_to(logdir)
    shutil.copytree(source, copy)
    hparams = yaml.safe_load((copy / "hparams.yaml").read_text())
    hparams.pop("seed", None)
    (copy / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    config = (copy / "config.yaml").read_text()
    (copy / "config.yaml").write_text(re.sub(r"^seed: \d+$", "seed: 5", config, flags=re.M))
    (run,) = collect_runs(tmp_path / "logs")
    assert run.seed == 5
    (copy / "hparams.yaml").unlink()  # crashed before training: identity from the folder, seed from config
    (run,) = collect_runs(tmp_path / "logs")
    assert run.seed == 5 and run.hparams == {}
    assert group_variants([run])[0].label == "autoencoder/batch-affine_true"


def test_variant_statistics_agree_with_the_event_files(logdir, report):
    rows = csv_rows(report / "ablation.csv", "variant")
    assert set(rows) == {"batch", "instance"}
    for tag in ("val/psnr", "val/ssim", "val/loss", "train/loss"):
        for kind, values in finals_by_kind(logdir, tag).items():
            row = rows[kind]
            mean, sd = statistics.mean(values), statistics.stdev(values)
            assert int(row[f"{tag}_n"]) == len(values) == 2
            assert float(row[f"{tag}_mean"]) == pytest.approx(mean, rel=1e-9, abs=1e-12)
            assert float(row[f"{tag}_std"]) == pytest.approx(sd, rel=1e-9, abs=1e-12)
            half = T_975_DF1 * sd / math.sqrt(2)
            close = {"rel": 0, "abs": 1e-6 * half + 1e-12}  # the table value has 8 digits
            assert float(row[f"{tag}_ci_low"]) == pytest.approx(mean - half, **close)
            assert float(row[f"{tag}_ci_high"]) == pytest.approx(mean + half, **close)
    header, table_rows = table(section((report / "ablation.md").read_text(), "Variants"))
    assert [row[header.index("variant")] for row in table_rows] == ["batch", "instance"]
    assert all(re.search(r"\bn=2\b", row[header.index("val/psnr ↑")]) for row in table_rows)


def test_comparison_is_welch_with_holm_against_the_first_variant(logdir, report):
    markdown = (report / "ablation.md").read_text()
    assert "first variant in sort order" in markdown
    rows = csv_rows(report / "ablation.csv", "variant")
    assert rows["batch"]["reference"] == "batch" and rows["instance"]["reference"] == "batch"
    for tag in ("val/psnr", "val/ssim"):
        finals = finals_by_kind(logdir, tag)
        a, b = finals["instance"], finals["batch"]
        va, vb = statistics.variance(a) / 2, statistics.variance(b) / 2
        t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 + vb**2)  # Welch-Satterthwaite with n - 1 = 1 on both sides
        p = 2 * scipy_stats.t.sf(abs(t), df)
        assert float(rows["instance"][f"{tag}_p"]) == pytest.approx(p, rel=1e-6)
        # One comparison per metric: Holm leaves the p-value as it is.
        assert float(rows["instance"][f"{tag}_p_holm"]) == pytest.approx(p, rel=1e-6)
        better = statistics.mean(a) > statistics.mean(b)  # PSNR and SSIM: higher is better
        expected = ("better" if better else "worse") if p < 0.05 else "not significant"
        assert rows["instance"][f"{tag}_verdict"] == expected
    header, comparisons = table(section(markdown, "Comparisons"))
    psnr = next(row for row in comparisons if row[0] == "val/psnr")
    assert (psnr[header.index("variant")], psnr[header.index("reference")]) == ("instance", "batch")
    assert psnr[header.index("p (Welch)")] == f"{float(rows['instance']['val/psnr_p']):.2g}"


def test_report_states_what_it_rests_on(logdir, report):
    markdown = (report / "ablation.md").read_text()
    order = [markdown.index(s) for s in ("LOGDIR", "## Variants", "## Comparisons", "## Runs left out", "## Pictures")]
    assert order == sorted(order)
    header = markdown.split("## Variants")[0]
    assert f"`{logdir}`" in header
    assert "4 (4 averaged in, 0 left out), 2 variants, seeds 0, 1" in header
    assert "Precision and hardware recorded:** trainer/precision: 32-true (4 runs); run/hardware: cpu" in header
    assert "What the preset holds equal:** not stated" in header
    assert "optimizer steps: 6 in every variant" in header
    assert "images seen (steps x data/batch_size): 24 in every variant" in header  # batch size 4
    assert "Welch's t-test" in header and "Holm-Bonferroni" in header and "n too small" in header
    assert CONVERGENCE_RULE in header
    assert "None: every run is averaged into every metric it logged." in section(markdown, "Runs left out")
    for name in ("curves.png", "ablation.png", "ablation_runs.md", "ablation.csv"):
        assert f"]({name})" in section(markdown, "Pictures and tables")


def test_convergence_follows_the_stated_rule(logdir, report):
    """The rule recomputed from the event files: last validation minus the one nearest 75% of its step."""
    changes: dict[str, list[float]] = {}
    for folder in run_dirs(logdir):
        kind = folder.relative_to(logdir).parts[1].split("-")[0]
        points = [(s, v) for s, v in read_scalars(folder, "val/psnr") if math.isfinite(v)]
        (last_step, last), earlier = points[-1], points[:-1]
        start = min(earlier, key=lambda point: abs(point[0] - 0.75 * last_step))[1]
        changes.setdefault(kind, []).append(last - start)
    header, rows = table(section((report / "ablation.md").read_text(), "Variants"))
    for kind, finals in finals_by_kind(logdir, "val/psnr").items():
        mean_change = statistics.mean(changes[kind])
        if abs(mean_change) <= statistics.stdev(finals):
            expected = "plateaued"
        else:
            expected = "still improving" if mean_change > 0 else "still getting worse"
        row = next(row for row in rows if row[header.index("variant")] == kind)
        assert row[header.index("convergence")].startswith(f"val/psnr: {expected} ")
        assert row[header.index("rank")].endswith("(not final)") == (expected != "plateaued")


def test_per_run_table_marks_the_real_best_per_column(logdir, report):
    runs = collect_runs(logdir)
    header, rows = table((report / "ablation_runs.md").read_text())
    assert len(rows) == len(SWEEP)
    assert [row[header.index("norm")] for row in rows] == ["batch", "batch", "instance", "instance"]
    assert [row[header.index("seed")] for row in rows] == ["0", "1", "0", "1"]
    assert {row[header.index("status")] for row in rows} == {"finished"}
    assert {row[header.index("averaged in")] for row in rows} == {"yes"}
    metric_headers = [h for h in header if h.startswith(("val/", "train/"))]
    assert {"val/psnr ↑", "val/ssim ↑", "val/loss ↓", "train/loss ↓"} <= set(metric_headers)
    for name in metric_headers:
        tag = name.rsplit(" ", 1)[0]
        values = [r.metrics[tag] for r in runs]
        best = max(values) if higher_is_better(tag) else min(values)
        column = [row[header.index(name)] for row in rows]
        bold = [i for i, cell in enumerate(column) if re.fullmatch(r"\*\*.+\*\*", cell)]
        assert bold and all(values[i] == best for i in bold), (name, column, values)


def test_runs_csv_has_the_raw_numbers(logdir, report):
    runs = collect_runs(logdir)
    with (report / "ablation_runs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["run"] for row in rows] == [r.name for r in runs]
    assert [row["seed"] for row in rows] == ["0", "1", "0", "1"]
    for row, folder in zip(rows, run_dirs(logdir), strict=True):
        assert row["run"] == folder.relative_to(logdir).as_posix()
        assert float(row["val/psnr"]) == [v for _, v in read_scalars(folder, "val/psnr") if math.isfinite(v)][-1]


def test_picture_has_one_labelled_panel_per_variant(logdir, report):
    seed0 = [r for r in collect_runs(logdir) if r.seed == 0]  # batch, instance
    assert picture_rows(seed0) == [seed0]  # one model, fewer runs than columns: a single row
    grids = [Image.open(io.BytesIO(r.grid_png)) for r in seed0]
    picture = Image.open(report / "ablation.png")
    assert picture.width == sum(g.width for g in grids) + 4 * (len(grids) - 1)
    assert picture.height > max(g.height for g in grids)  # the label strip sits above
    # The picture ends with the last variant's seed-0 grid at native size.
    last = grids[-1].convert("RGB")
    crop = picture.convert("RGB").crop(
        (picture.width - last.width, picture.height - last.height, picture.width, picture.height)
    )
    assert crop.tobytes() == last.tobytes()


def test_curves_png_is_a_real_figure(report):
    path = report / "curves.png"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 800 and 250 <= image.height <= 2000
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50  # lines, bands, text: not a blank canvas
    assert path.stat().st_size > 20_000
    assert not (report / "batch_size.png").exists()  # one batch size: no batch-size plot


def test_failed_and_nan_runs_are_listed_not_averaged(logdir, tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(logdir, logs)
    batch_1, instance_1 = (d for d in run_dirs(logs) if d.name == "version_1")
    writer = SummaryWriter(log_dir=str(instance_1))  # val/psnr turns NaN at a later validation
    writer.add_scalar("val/psnr", float("nan"), 7)
    writer.close()
    (batch_1 / "result.json").write_text('{"status": "crashed", "global_step": 3, "metrics": {}, "error": "boom"}')
    out = tmp_path / "report"
    assert main([str(logs), "--out", str(out), "--no-layout"]) == 0
    rows = csv_rows(out / "ablation.csv", "variant")
    finals = finals_by_kind(logdir, "val/psnr")  # the untouched copy
    assert rows["instance"]["val/psnr_n"] == "1" and rows["instance"]["val/ssim_n"] == "2"
    assert float(rows["instance"]["val/psnr_mean"]) == finals["instance"][0]  # seed 0 only
    assert {rows["batch"][f"{tag}_n"] for tag in ("val/psnr", "val/ssim", "train/loss")} == {"1"}
    left_out = section((out / "ablation.md").read_text(), "Runs left out")
    assert batch_1.relative_to(logs).as_posix() in left_out and "crashed (result.json) at step 3" in left_out
    assert "boom" in left_out
    assert instance_1.relative_to(logs).as_posix() in left_out and "final value non-finite: val/psnr = nan" in left_out
    # A run without result.json is left out unless asked for, then flagged.
    (logs / "autoencoder" / "batch-affine_true" / "version_0" / "result.json").unlink()
    assert main([str(logs), "--out", str(out), "--no-layout"]) == 0
    assert "incomplete: no result.json" in section((out / "ablation.md").read_text(), "Runs left out")
    assert csv_rows(out / "ablation.csv", "variant")["batch"]["val/psnr_n"] == "0"
    assert main([str(logs), "--out", str(out), "--no-layout", "--include-incomplete"]) == 0
    assert csv_rows(out / "ablation.csv", "variant")["batch"]["val/psnr_n"] == "1"
    assert "Averaged in without result.json" in (out / "ablation.md").read_text()


def test_protocol_from_hparams_within_batch_size_and_the_batch_size_plot(logdir, tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(logdir, logs)
    for folder in run_dirs(logs):  # the same runs again as a second batch size
        twin = folder.parent.with_name(folder.parent.name + ",batch_size=8") / folder.name
        shutil.copytree(folder, twin)
        edit_hparams(twin, {"data/batch_size": 8})
    protocol = {
        "ablation/preset": "tiny_sweep",
        "ablation/reference": "norm/kind=instance",
        "ablation/compare_within": "data/batch_size",
        "ablation/holds_equal": "optimizer steps: 6 at every batch size",
        "ablation/primary_metric": "val/ssim",
    }
    for folder in run_dirs(logs):
        edit_hparams(folder, protocol)
    out = tmp_path / "report"
    assert main([str(logs), "--out", str(out), "--no-layout"]) == 0
    markdown = (out / "ablation.md").read_text()
    header = markdown.split("## Variants")[0]
    assert "**Preset:** tiny_sweep" in header
    assert "optimizer steps: 6 at every batch size" in header
    assert "norm/kind=instance (ablation/reference in the runs' hparams)" in header
    assert "compared within equal data/batch_size" in header
    assert "**Primary metric:** val/ssim" in header
    rows = csv_rows(out / "ablation.csv", "variant")
    assert {label: row["reference"] for label, row in rows.items()} == {
        "batch, bs=4": "instance, bs=4",
        "batch, bs=8": "instance, bs=8",
        "instance, bs=4": "instance, bs=4",
        "instance, bs=8": "instance, bs=8",
    }
    variant_header, _ = table(section(markdown, "Variants"))
    assert variant_header[5] == "val/ssim ↑"  # the primary metric is the first metric column
    with Image.open(out / "batch_size.png") as image:
        assert image.format == "PNG" and image.width >= 400
    assert "](batch_size.png)" in markdown
    # The command line wins over the hparams.
    assert main([str(logs), "--out", str(out), "--no-layout", "--reference", "norm/kind=batch"]) == 0
    assert csv_rows(out / "ablation.csv", "variant")["instance, bs=8"]["reference"] == "batch, bs=8"


def test_a_reference_no_variant_has_exits_2(logdir, tmp_path, capsys):
    assert main([str(logdir), "--out", str(tmp_path), "--no-layout", "--reference", "norm/kind=group"]) == 2
    error = capsys.readouterr().err
    assert "no variant" in error and "values seen" in error and "Traceback" not in error


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


def test_images_seen_count_batches_not_optimizer_steps():
    """CycleGAN takes two optimizer steps (G, D) per batch: 424 steps at batch 1 are 212 images."""
    from stylenorm.report.analysis import steps_per_batch
    from stylenorm.report.runs import RunSummary

    recorded = RunSummary(Path("a"), "a", hparams={"model": "cyclegan", "trainer/optimizer_steps_per_batch": 2})
    legacy = RunSummary(Path("b"), "b", hparams={"model": "cyclegan"})  # logged before the key existed
    plain = RunSummary(Path("c"), "c", hparams={"model": "autoencoder", "trainer/optimizer_steps_per_batch": 1})
    assert steps_per_batch([recorded]) == steps_per_batch([legacy]) == 2
    assert steps_per_batch([plain]) == 1 and steps_per_batch([]) == 1
