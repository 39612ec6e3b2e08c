"""The web page's functions without a browser: finding and describing checkpoints, reading uploads,
the side-by-side results (the stylize command's pixels), the activation statistics around the norm
layers (checked against what each norm must give), the lighting comparison, and the page's HTTP
endpoints through gradio_client, offline.

The browser test is test_demo_browser.py; both use the two tiny runs of demo_runs.py.
"""

import json
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from demo_runs import KINDS, checkpoint, free_port, photo, train_demo_runs
from PIL import Image

from reference_networks import FastNeuralStyleNet
from stylenorm.demo import (
    Controls,
    DemoError,
    DemoSession,
    ModelCache,
    find_checkpoints,
    norm_layer_statistics,
    read_input,
    relight,
)
from stylenorm.demo.cli import DEFAULT_HOST, build_parser
from stylenorm.inference import load_stylizer, stylize
from stylenorm.tasks import AutoencoderTask


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return train_demo_runs(tmp_path_factory.getbasetemp() / "demo_runs")


def task_checkpoint(task: torch.nn.Module, path: Path) -> Path:
    """The keys a Lightning checkpoint holds for inference (state_dict, hyper_parameters), without VGG16."""
    state = {key: value for key, value in task.state_dict().items() if not key.startswith("perceptual.")}
    torch.save({"state_dict": state, "hyper_parameters": dict(task.hparams)}, path)
    return path


# ---------------------------------------------------------------- the checkpoint list


@pytest.mark.integration
def test_checkpoints_are_found_with_their_norm_settings_and_their_runs_metrics(runs, tmp_path):
    entries = {entry.norm_kind: entry for entry in find_checkpoints([runs / "checkpoints", runs / "logs"])}
    assert set(entries) == set(KINDS)
    for kind, entry in entries.items():
        assert entry.path == checkpoint(runs, kind).resolve()
        assert (entry.model, entry.affine, entry.error) == ("autoencoder", True, None)
        # the checkpoint's mirror under logs/ (configs/train.yaml): logs/runs/<time>_autoencoder-<kind>
        assert entry.run == checkpoint(runs, kind).parent.relative_to(runs / "checkpoints").as_posix()
        assert entry.status == "finished"
        # the run's own record, read independently: the page shows the run's final values
        result = json.loads((runs / "logs" / entry.run / "result.json").read_text())
        assert entry.metrics["val/psnr"] == pytest.approx(result["metrics"]["val/psnr"])
        assert f"{kind}, affine=True" in entry.label() and "psnr" in entry.label()


@pytest.mark.integration
def test_public_files_and_broken_files_are_listed_and_encoders_are_not(runs, tmp_path):
    torch.save(FastNeuralStyleNet().state_dict(), tmp_path / "mosaic.pth")
    (tmp_path / "broken.ckpt").write_bytes(b"not a checkpoint at all")
    torch.save(
        {"0.weight": torch.zeros(3, 3, 1, 1), "2.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "vgg_normalised.pth"
    )
    entries = {entry.path.name: entry for entry in find_checkpoints([tmp_path])}
    assert set(entries) == {"mosaic.pth", "broken.ckpt"}  # the AdaIN encoder only serves a decoder
    mosaic = entries["mosaic.pth"]
    assert (mosaic.format, mosaic.model, mosaic.norm_kind, mosaic.affine) == (
        "fast_neural_style",
        "style",
        "instance",
        True,
    )
    broken = entries["broken.ckpt"]
    assert broken.error is not None and "broken.ckpt" in broken.label()
    with pytest.raises(DemoError, match=r"broken\.ckpt cannot be read"):
        ModelCache("cpu").get(broken)


@pytest.mark.integration
def test_models_are_loaded_once(runs):
    (entry,) = [e for e in find_checkpoints([runs / "checkpoints"]) if e.norm_kind == "instance"]
    cache = ModelCache("cpu")
    first = cache.get(entry)
    assert cache.get(entry) is first and cache.loads == 1
    assert cache.get(entry, Controls(direction="BtoA")) is first  # options a checkpoint does not take: same model


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, I am a text file\n", r"notes\.txt is not an image: Pillow recognises no image format"),
        (b"", r"notes\.txt is empty \(0 bytes\)"),
    ],
)
def test_files_that_are_not_images_are_named(tmp_path, content, message):
    (tmp_path / "notes.txt").write_bytes(content)
    with pytest.raises(DemoError, match=message):
        read_input(tmp_path / "notes.txt")


def test_a_truncated_image_and_an_enormous_one_are_named(tmp_path):
    data = (photo(tmp_path / "whole.png", 64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DemoError, match=r"cut\.png looks like an image \(64x64 px\) but could not be decoded"):
        read_input(tmp_path / "cut.png")
    with pytest.raises(DemoError, match=r"whole\.png is 64x64 px .* at most 0\.0 megapixels.*--max-pixels"):
        read_input(tmp_path / "whole.png", max_pixels=1000)
    assert read_input(tmp_path / "whole.png", max_pixels=4096).size == (64, 64)


# ---------------------------------------------------------------- side by side


@pytest.mark.integration
def test_results_are_the_stylize_commands_pixels_at_the_inputs_size(runs, tmp_path):
    session = DemoSession([runs / "checkpoints"], device="cpu", precision="fp32")
    image = photo(tmp_path / "in.png", 70, 50)
    results = session.stylize(image, [checkpoint(runs, kind) for kind in KINDS], output_dir=tmp_path / "out")
    assert [result.entry.norm_kind for result in results] == list(KINDS)
    for result, kind in zip(results, KINDS, strict=True):
        assert result.error is None and result.image.size == (70, 50)
        expected = stylize(image, load_stylizer(checkpoint(runs, kind), device="cpu"), precision="fp32")
        assert np.array_equal(np.asarray(result.image), np.asarray(expected))
        with Image.open(result.path) as saved:  # the download is the result, losslessly
            assert np.array_equal(np.asarray(saved), np.asarray(expected))
        assert f"{kind}, affine=True" in result.caption() and result.seconds > 0
    assert not np.array_equal(np.asarray(results[0].image), np.asarray(results[1].image))


@pytest.mark.integration
def test_a_checkpoint_that_does_not_load_is_named_and_the_others_still_run(runs, tmp_path):
    (tmp_path / "broken.ckpt").write_bytes(b"\x00" * 64)
    session = DemoSession([runs / "checkpoints", tmp_path], device="cpu")
    results = session.stylize(None, [tmp_path / "broken.ckpt", checkpoint(runs, "instance")], sample="cat (451x300)")
    assert results[0].image is None and "broken.ckpt" in results[0].error
    assert results[1].error is None and results[1].image.size == (451, 300)


def test_the_style_controls_reach_conditional_instance_norm_and_adain_networks(tmp_path):
    from stylenorm.nn.conditional_instance_norm import conditional_layers
    from stylenorm.tasks import StyleTransferTask
    from stylenorm.tasks.adain import AdaINTask

    torch.manual_seed(1)
    multi = StyleTransferTask(
        norm={"kind": "conditional_instance", "num_styles": 2}, network={"num_residual_blocks": 1}, vgg_weights="random"
    )
    with torch.no_grad():  # styles that differ (a fresh table holds two identical rows)
        for layer in conditional_layers(multi.transformer):
            layer.weight.normal_(1.0, 0.5)
            layer.bias.normal_(0.0, 0.5)
    adain = AdaINTask(norm={"kind": "none"}, network={"width": 8}, encoder_weights="random")
    paths = {
        "multi": task_checkpoint(multi, tmp_path / "multi.ckpt"),
        "adain": task_checkpoint(adain, tmp_path / "adain.ckpt"),
    }
    session = DemoSession([tmp_path], device="cpu", precision="fp32")
    entries = {entry.path.name: entry for entry in session.entries}
    assert entries["multi.ckpt"].num_styles == 2 and entries["adain.ckpt"].takes_style_images
    image, style = photo(tmp_path / "in.png", 48, 40), photo(tmp_path / "style.png", 40, 40, seed=3)
    controls = Controls(style=1, style_images=(str(style),), alpha=0.5)
    results = session.stylize(image, [paths["multi"], paths["adain"]], controls, output_dir=tmp_path / "out")
    expected = [
        stylize(image, load_stylizer(paths["multi"], device="cpu", style=1), precision="fp32"),
        stylize(image, load_stylizer(paths["adain"], device="cpu", style_images=[style], alpha=0.5), precision="fp32"),
    ]
    for result, pixels in zip(results, expected, strict=True):
        assert result.error is None and np.array_equal(np.asarray(result.image), np.asarray(pixels))
    # captions and download names record the settings used
    assert "style: conditional_instance, affine=True, 2 styles, style 1 (multi.ckpt)" in results[0].caption()
    assert "adain: AdaIN, decoder norm none, style style.png, alpha 0.5 (adain.ckpt)" in results[1].caption()
    assert results[0].path.name == "1_style_conditional_instance_affine-True_2styles_style_1_multi.png"
    assert results[1].path.name == "2_adain_none_affine-True_style_style.png_alpha_0.5_adain.png"
    # mixes: conditional IN's weights, AdaIN's style images with their weights (alpha 1 is not named)
    other = photo(tmp_path / "other.png", 40, 40, seed=4)
    mixes = Controls(style=(0.25, 0.75), style_images=(str(style), str(other)), style_weights=(0.5, 0.5))
    mixed = session.stylize(image, [paths["multi"], paths["adain"]], mixes, output_dir=tmp_path / "mix")
    assert "style mix 0.25,0.75 (multi.ckpt)" in mixed[0].caption()
    assert "style style.png, other.png (weights 0.5,0.5) (adain.ckpt)" in mixed[1].caption()
    assert "alpha" not in mixed[1].caption()
    other_style = session.stylize(image, [paths["multi"]], Controls(style=0), output_dir=tmp_path / "out0")[0]
    assert not np.array_equal(np.asarray(other_style.image), np.asarray(results[0].image))
    _, rows, notes = session.statistics(image, [paths["adain"]], controls)  # AdaIN normalises the content features
    # mean 0 per channel; std 1 per live channel (a random encoder's relu4_1 has dead, all-zero channels)
    assert notes == [] and [row[3] for row in rows] == ["AdaINContentNorm"] and rows[0][6] < 1e-3 < rows[0][7] <= 1.0001
    missing = session.stylize(image, [paths["multi"], paths["adain"]], output_dir=tmp_path / "out1")
    assert "holds 2 styles" in missing[0].error and "Style" in missing[0].error
    assert "AdaIN network" in missing[1].error and "style image" in missing[1].error


@pytest.mark.integration
def test_captions_and_downloads_name_model_norm_affine_and_run(runs, tmp_path):
    session = DemoSession([runs / "checkpoints", runs / "logs"], device="cpu", precision="fp32")
    (result,) = session.stylize(photo(tmp_path / "in.png", 40, 32), [checkpoint(runs, "batch")], output_dir=tmp_path)
    assert result.entry.run  # the run's log folder was found: its name is part of the caption and the file name
    assert result.caption().startswith(f"autoencoder: batch, affine=True ({result.entry.run}/last.ckpt) — ")
    run_words = "_".join(part for part in re.split(r"[^A-Za-z0-9.=-]+", result.entry.run) if part)
    assert result.path.name == f"1_autoencoder_batch_affine-True_{run_words}_last.png"


def test_the_difference_map_measures_the_difference_in_gray_levels(tmp_path):
    from stylenorm.demo.compare import difference_map

    generator = np.random.default_rng(0)
    a = generator.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + generator.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    found = difference_map(Image.fromarray(a), Image.fromarray(b))
    assert found.image.size == (40, 30)
    assert found.mean == pytest.approx(np.abs(a.astype(float) - b).mean(), rel=1e-6)
    assert found.largest == pytest.approx(np.abs(a.astype(float) - b).mean(axis=2).max(), rel=1e-6)
    same = difference_map(Image.fromarray(a), Image.fromarray(a))
    assert same.mean == 0 and same.scale == 1
    assert np.asarray(same.image).max() < 10  # black: magma's darkest colour everywhere
    assert "mean 0.00" in same.caption("a", "b")
    with pytest.raises(DemoError, match="differ in size"):
        difference_map(Image.fromarray(a), Image.fromarray(a[:10]))


def test_the_relit_inputs_clipped_fraction_is_measured_and_explained():
    from stylenorm.demo.compare import invariance_note

    pixels = torch.tensor([0, 51, 102, 153, 204, 255], dtype=torch.uint8).repeat(3, 1)[:, None, :]  # 3x1x6
    lit, clipped = relight(pixels, brightness=0.3, contrast=1.0)
    # + 0.3 pushes 204 (0.8) past 1; 255 was white already, so it is not counted: 1 of 6 values clipped
    assert clipped == pytest.approx(1 / 6)
    assert lit[0, 0].tolist() == [76, 128, 179, 230, 255, 255]  # 76.5 rounds to even
    assert "clipped to black or white" in invariance_note(clipped) and "zero padding" in invariance_note(clipped)
    assert relight(pixels)[1] == 0 and "16.7%" in invariance_note(clipped)


@pytest.mark.integration
def test_a_large_image_waits_in_its_own_lane_one_per_visitor_and_small_ones_pass(runs, tmp_path):
    session = DemoSession([runs / "checkpoints"], device="cpu", precision="fp32", large_pixels=40 * 40)
    small, large = photo(tmp_path / "small.png", 40, 30), photo(tmp_path / "large.png", 80, 60)
    entry = [checkpoint(runs, "instance")]
    inside, release = threading.Event(), threading.Event()

    def hold(fraction, description):  # the first large request's progress, inside its lane
        if "of 1" in description and not release.is_set():
            inside.set()
            release.wait(60)

    first = threading.Thread(
        target=session.stylize,
        args=(large, entry),
        kwargs={"progress": hold, "visitor": "a", "output_dir": tmp_path / "a"},
    )
    first.start()
    assert inside.wait(60)
    # a small image from anyone runs while the large one holds its lane
    assert session.stylize(small, entry, visitor="b", output_dir=tmp_path / "b")[0].image.size == (40, 30)
    assert session.stylize(small, entry, visitor="a", output_dir=tmp_path / "a2")[0].error is None
    with pytest.raises(DemoError, match="one large image per visitor"):
        session.stylize(large, entry, visitor="a", output_dir=tmp_path / "a3")
    second: list = []
    waiting = threading.Thread(
        target=lambda: second.extend(session.stylize(large, entry, visitor="c", output_dir=tmp_path / "c"))
    )
    waiting.start()
    waiting.join(1.0)
    assert waiting.is_alive() and not second  # another visitor's large image waits for the one ahead
    release.set()
    first.join(60)
    waiting.join(60)
    assert second[0].image.size == (80, 60)


@pytest.mark.integration
def test_nothing_selected_or_no_image_is_said(runs):
    session = DemoSession([runs / "checkpoints"], device="cpu")
    with pytest.raises(DemoError, match="No checkpoint selected"):
        session.stylize(None, [], sample="cat (451x300)")
    with pytest.raises(DemoError, match="No image"):
        session.stylize(None, [checkpoint(runs, "instance")])


# ---------------------------------------------------------------- why they differ


def test_statistics_show_instance_norm_reaching_mean_0_std_1_and_batch_norm_passing_its_input_on(tmp_path):
    torch.manual_seed(0)
    instance = AutoencoderTask(norm={"kind": "instance", "affine": False}, network={"base_channels": 8})
    batch = AutoencoderTask(
        norm={"kind": "batch", "affine": True}, network={"base_channels": 8}
    )  # fresh: mean 0, var 1
    image = read_input(photo(tmp_path / "in.png", 64, 48))
    for_instance = norm_layer_statistics(
        image, load_stylizer(task_checkpoint(instance, tmp_path / "in.ckpt"), device="cpu")
    )
    for_batch = norm_layer_statistics(image, load_stylizer(task_checkpoint(batch, tmp_path / "bn.ckpt"), device="cpu"))
    names = [
        name for name, module in instance.autoencoder.named_modules() if isinstance(module, torch.nn.InstanceNorm2d)
    ]
    assert [layer.layer for layer in for_instance] == names  # every norm layer, in the order they run
    for layer in for_instance:  # normalised per channel: |mean| 0 and std sqrt(var / (var + eps)), ~1
        assert layer.after_abs_mean < 1e-4
        assert layer.after_std == pytest.approx(1, abs=0.02)
    assert max(abs(layer.before_std - 1) for layer in for_instance) > 0.1  # ... which their inputs were not
    for layer in for_batch:  # running statistics (0, 1), gamma 1, beta 0: y = x / sqrt(1 + eps)
        assert layer.after_std == pytest.approx(layer.before_std / (1 + 1e-5) ** 0.5, rel=1e-4)
        assert layer.after_abs_mean == pytest.approx(layer.before_abs_mean / (1 + 1e-5) ** 0.5, rel=1e-4, abs=1e-7)


@pytest.mark.integration
def test_the_statistics_page_function_gives_a_figure_and_a_table(runs):
    session = DemoSession([runs / "checkpoints"], device="cpu")
    figure, rows, notes = session.statistics(None, [checkpoint(runs, kind) for kind in KINDS], sample="cat (451x300)")
    assert notes == [] and len(figure.axes) == 2
    assert {row[3] for row in rows} == {"InstanceNorm2d", "BatchNorm2d"}


# ---------------------------------------------------------------- lighting


def test_relight_scales_contrast_about_the_mean_and_adds_brightness():
    pixels = torch.tensor([[[[51, 102], [153, 204]]]], dtype=torch.uint8).expand(1, 3, 2, 2)
    x = pixels.float() / 255
    expected = ((x.mean() + 0.5 * (x - x.mean()) + 0.1).clamp(0, 1) * 255).round()
    assert torch.equal(relight(pixels, brightness=0.1, contrast=0.5)[0].float(), expected)
    with pytest.raises(DemoError, match="Contrast must be > 0"):
        relight(pixels, contrast=0)


@pytest.mark.integration
def test_instance_norm_outputs_move_less_than_batch_norm_outputs_when_the_lighting_changes(tmp_path):
    # Zero padding makes border pixels see the lighting change, so the image is large enough for borders
    # to be a small part of it.
    image = photo(tmp_path / "in.png", 256, 192)
    torch.manual_seed(0)
    instance = AutoencoderTask(norm={"kind": "instance", "affine": False}, network={"base_channels": 8})
    # The same convolutions with batch norm whose running statistics are this image's own (one training
    # pass at momentum 1): on the image itself it normalises exactly as instance norm does (batch of 1),
    # so any difference under new lighting is the norm's doing.
    batch = AutoencoderTask(norm={"kind": "batch", "affine": False, "momentum": 1.0}, network={"base_channels": 8})
    batch.load_state_dict(instance.state_dict(), strict=False)
    with torch.no_grad():
        batch.autoencoder.train()(read_input(image).pixels[None].float() / 255)
    paths = [task_checkpoint(instance, tmp_path / "in.ckpt"), task_checkpoint(batch, tmp_path / "bn.ckpt")]
    session = DemoSession([tmp_path], device="cpu", precision="fp32")
    same = session.stylize(image, paths, output_dir=tmp_path / "out")
    # (running variance is the unbiased one, a fraction of a percent larger at the smallest layers)
    assert np.abs(np.asarray(same[0].image, float) - np.asarray(same[1].image, float)).mean() < 0.5
    relit, (by_instance, by_batch), clipped = session.lighting(image, paths, brightness=0.05, contrast=0.8)
    assert clipped == 0  # the photo stays inside [0.1, 0.9]
    assert relit.size == (256, 192) and by_instance.image.size == (256, 192)
    assert by_batch.change > 2  # gray levels
    assert by_instance.change < by_batch.change / 4
    assert [result.change for result in session.lighting(image, paths)[1]] == [0, 0]  # unchanged lighting


# ---------------------------------------------------------------- the page, from Python, offline


def test_the_command_binds_localhost_and_shares_nothing_by_default():
    args = build_parser().parse_args([])
    assert (args.host, args.share) == (DEFAULT_HOST, False) and DEFAULT_HOST == "127.0.0.1"


@pytest.fixture
def outbound_attempts(monkeypatch):
    """Connections to anything but this machine, recorded and refused (as offline, but loudly)."""
    attempts = []
    connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append((threading.current_thread().name, address))
            raise OSError(f"test: no outbound connections ({address})")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # Gradio's own pandas 3 deprecations
def test_the_page_endpoints_work_through_gradio_client_without_reaching_out(runs, tmp_path, outbound_attempts):
    from gradio_client import Client, handle_file

    from stylenorm.demo.page import build_page, serve

    session = DemoSession([runs / "checkpoints"], device="cpu", precision="fp32")
    page = build_page(session)
    _, url, share_url = serve(page, "127.0.0.1", free_port(), block=False)
    try:
        assert share_url is None and url.startswith("http://127.0.0.1:")
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        image = photo(tmp_path / "in.png", 70, 50)
        gallery, _, timings, _first, _second, status = client.predict(
            handle_file(str(image)), None, [str(checkpoint(runs, kind)) for kind in KINDS],
            "AtoB", "", None, "", 1.0, False, api_name="/stylize",
        )  # fmt: skip
        assert "2 of 2 stylized" in status
        sizes = [Image.open(item["image"]).size for item in gallery]
        assert sizes == [(70, 50), (70, 50), (70, 50)]  # the input, then the two results
        assert gallery[0]["caption"] == "Input: in.png, 70x50 px"
        assert ["instance, affine=True" in timings["data"][0][0], "batch, affine=True" in timings["data"][1][0]] == [
            True,
            True,
        ]
        _, status = client.predict(handle_file(str(tmp_path / "in.png")), None, api_name="/check_image")
        assert "70x50 px" in status
        (tmp_path / "notes.txt").write_text("not an image")
        _, status = client.predict(handle_file(str(tmp_path / "notes.txt")), None, api_name="/check_image")
        assert "notes.txt is not an image" in status
    finally:
        page.close()
    assert outbound_attempts == []
