"""The page's Video tab: two variants of an uploaded clip, and the motion-free flicker numbers."""

from __future__ import annotations

import pytest
import torch
from test_stylize import lightning_checkpoint
from test_video import make_video

from stylenorm.demo.compare import compare_clip
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.session import DemoSession
from stylenorm.inference.video_io import read_video


@pytest.fixture(scope="module")
def instance_checkpoint(tmp_path_factory):
    from stylenorm.tasks.autoencoder import AutoencoderTask

    torch.manual_seed(0)
    task = AutoencoderTask(norm={"kind": "instance"}, network={"base_channels": 4})
    return lightning_checkpoint(task, tmp_path_factory.mktemp("ckpt") / "instance.ckpt")


def test_two_variants_of_a_clip_side_by_side_with_the_inputs_numbers(tmp_path, instance_checkpoint):
    clip = tmp_path / "clip.mp4"
    make_video(clip, count=5, size=(30, 34), audio=False)
    session = DemoSession([tmp_path], device="cpu", precision="fp32")
    entry = session.entry(instance_checkpoint)
    videos, rows = compare_clip(
        clip, [(entry, "per-frame"), (entry, "clip")], session.models, output_dir=tmp_path / "o"
    )
    assert [len(list(read_video(video))) for video in videos] == [5, 5]
    assert [row[0].rsplit(" · ", 1)[-1] for row in rows[1:]] == ["per-frame", "clip"]
    frames = torch.stack([torch.from_numpy(f.pixels) for f in read_video(clip)]).double()
    change = (frames[1:] - frames[:-1]).abs().mean()  # even sides already: nothing cropped
    assert rows[0][1] == pytest.approx(float(change), abs=0.01)


def test_a_file_that_is_not_a_video_is_named(tmp_path, instance_checkpoint):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    session = DemoSession([tmp_path], device="cpu")
    with pytest.raises(DemoError, match="Not a video"):
        compare_clip(bad, [(session.entry(instance_checkpoint), "per-frame")], session.models, output_dir=tmp_path)


@pytest.mark.integration
def test_the_page_has_the_video_endpoint(tmp_path):
    from stylenorm.demo.page import build_page

    page = build_page(DemoSession([tmp_path], device="cpu"))
    assert "stylize_clip" in {getattr(fn, "api_name", None) for fn in page.fns.values()}
