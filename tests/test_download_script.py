"""The dataset download helper: real code path, exercised without the network."""

import io
import sys
import urllib.error
import zipfile

import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import download_cyclegan_dataset as script


def fake_archive(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for folder in ("trainA", "trainB", "testA", "testB"):
            zipped.writestr(f"{name}/{folder}/x.jpg", b"jpeg bytes")
    return buffer.getvalue()


def test_download_unpacks_the_original_layout(tmp_path):
    payload = fake_archive("horse2zebra")
    opened = []

    def opener(url, timeout):
        opened.append(url)
        return io.BytesIO(payload)

    root = script.download("horse2zebra", tmp_path, opener=opener)
    assert opened == ["https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"]
    assert (root / "trainA" / "x.jpg").is_file() and (root / "testB" / "x.jpg").is_file()
    assert not list(tmp_path.glob("*.zip*"))  # archive removed


def test_offline_failure_says_what_to_do_and_leaves_no_partial_file(tmp_path):
    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    with pytest.raises(RuntimeError, match=r"needs internet access.*horse2zebra/trainA"):
        script.download("horse2zebra", tmp_path, opener=offline)
    assert list(tmp_path.iterdir()) == []


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of apple2orange"):
        script.dataset_url("zebra2horse")
