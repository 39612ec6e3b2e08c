"""The report's TensorBoard runs (one per variant: mean over seeds with the min-max band) and the link
that opens TensorBoard on the validation charts."""

import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2, metadata

from stylenorm.report.cli import main
from stylenorm.report.frame import read_runs
from stylenorm.report.tensorboard import variant_labels
from stylenorm.tensorboard_link import MAX_PINNED, pinned_url
from tests.report_runs import write_run

CURVES = {  # variant -> per seed, val/psnr at steps 100, 200, 300
    "batch": [[20.0, 22.0, 23.0], [21.0, 23.5, 24.0], [19.0, 21.0, 25.0]],
    "instance": [[15.0, 16.0, 18.0], [17.0, 18.0, 19.5]],
}


def events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_each_variant_is_one_run_with_its_mean_min_and_max_over_seeds(tmp_path, capsys):
    logs = tmp_path / "logs"
    for kind, seeds in CURVES.items():
        for seed, curve in enumerate(seeds):
            config = {"seed": seed, "model": {"name": "autoencoder"}, "norm": {"kind": kind}}
            write_run(logs, f"{kind}-{seed}", config, {"val/psnr": curve, "train/loss": [1.0, 0.5, 0.25]})
    write_run(logs, "crashed", {"model": {"name": "autoencoder"}, "norm": {"kind": "batch"}},
              {"val/psnr": [99.0, 99.0, 99.0]}, status="crashed")  # fmt: skip

    assert main([str(logs), "--out", str(tmp_path / "out")]) == 0

    board = tmp_path / "out" / "tensorboard"
    runs = sorted(p.name for p in board.iterdir())
    assert runs == ["kind=batch", "kind=instance"]
    for kind, seeds in CURVES.items():
        run = events(board / f"kind={kind}")
        values = np.array(seeds)
        for tag, expected in (("val/psnr", values.mean(0)), ("val/psnr/min", values.min(0)),
                              ("val/psnr/max", values.max(0))):  # fmt: skip
            scalars = run.Scalars(tag)
            assert [s.step for s in scalars] == [100, 200, 300]
            np.testing.assert_allclose([s.value for s in scalars], expected, rtol=1e-6)  # the crashed run left out
    assert not (logs / ".layout").exists()  # nothing written beside the training runs
    assert str(board) in capsys.readouterr().out


def test_the_layout_draws_every_metric_as_a_margin_chart_val_first(tmp_path):
    logs = tmp_path / "logs"
    for seed in range(2):
        write_run(logs, f"run-{seed}", {"seed": seed, "norm": {"kind": "batch"}},
                  {"train/loss": [1.0, 0.5], "val/ssim": [0.5, 0.6], "val/psnr": [20.0, 21.0]},
                  ablation={"primary_metric": "val/ssim"})  # fmt: skip
    assert main([str(logs), "--out", str(tmp_path / "out")]) == 0

    (run,) = (tmp_path / "out" / "tensorboard").iterdir()
    tensors = events(run).Tensors(metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout.FromString(tensors[0].tensor_proto.string_val[0])
    assert [c.title for c in layout.category] == ["val", "train"]
    # TensorBoard draws margin charts last first: reversed, the preset's primary metric shows first
    assert [chart.title for chart in layout.category[0].chart][::-1] == ["val/ssim", "val/psnr"]
    charts = {chart.title: chart for c in layout.category for chart in c.chart}
    series = charts["val/psnr"].margin.series[0]
    assert (series.value, series.lower, series.upper) == ("val/psnr", "val/psnr/min", "val/psnr/max")


def test_a_rerun_replaces_the_earlier_tensorboard_runs(tmp_path):
    logs = tmp_path / "logs"
    write_run(logs, "a", {"norm": {"kind": "batch"}}, {"val/psnr": [20.0]})
    stale = tmp_path / "out" / "tensorboard" / "norm.kind=gone"
    stale.mkdir(parents=True)
    assert main([str(logs), "--out", str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out" / "tensorboard").iterdir()] == ["all_runs"]


def test_the_link_pins_the_validation_charts_only_in_the_order_given():
    url = urlsplit(pinned_url(["epoch", "lr-G", "val/ssim", "train/loss", "val/psnr"], port=6010))
    assert (url.netloc, url.fragment) == ("localhost:6010", "timeseries")
    pins = json.loads(parse_qs(url.query)["pinnedCards"][0])
    assert pins == [{"plugin": "scalars", "tag": "val/ssim"}, {"plugin": "scalars", "tag": "val/psnr"}]
    many = [f"val/m{i}" for i in range(10)]
    assert len(json.loads(parse_qs(urlsplit(pinned_url(many)).query)["pinnedCards"][0])) == MAX_PINNED
    assert pinned_url(["epoch"]) == "http://localhost:6006/#timeseries"


def test_variants_are_named_by_what_the_command_line_varied_not_what_it_implies(tmp_path):
    """data.embedded follows from data.known_answer (and sorts first); the label uses the override."""
    for task, embedded in (("exposure", "cyclegan_exposure"), ("colour_grade", "cyclegan")):
        for seed in range(2):
            settings = {"seed": seed, "data": {"embedded": embedded, "known_answer": task}}
            overrides = [f"data.known_answer={task}", f"seed={seed}"]
            write_run(tmp_path, f"{task}_{seed}", settings, {"val/psnr": [20.0]}, overrides=overrides)
    labels = variant_labels(read_runs(tmp_path))
    assert set(labels) == {"known_answer=exposure", "known_answer=colour_grade"}
