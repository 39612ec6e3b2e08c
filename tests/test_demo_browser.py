"""The web page in a real browser: ``stylenorm-demo`` started as the README says, driven by Chromium.

Playwright drives the system Chromium (``executable_path``): Playwright's own browser build is a
download, which CI and offline machines cannot make. ``.ci/run`` installs Chromium with apt when it
is missing. Without a browser these tests are skipped with the reason and how to get one (pytest's
``-ra`` summary lists it), except under CI (``CI=true``), where they FAIL: there a skipped browser
test would let a broken page pass unnoticed.
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from demo_runs import free_port, photo, train_demo_runs
from PIL import Image

#: Where a Chromium may be: $STYLENORM_CHROMIUM first, then these names on PATH.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

HOW_TO_GET_A_BROWSER = (
    "The browser tests need Chromium and found none (looked at $STYLENORM_CHROMIUM and for {names} on PATH). "
    "Install it: `apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), `brew install --cask chromium` "
    "(macOS), or `playwright install chromium` where downloads are allowed; or point STYLENORM_CHROMIUM at a "
    "Chrome/Chromium binary."
)

#: The longest a step may take before the test gives up (a hung page, not a slow one, should fail).
PATIENCE_S = 120


def find_chromium() -> str | None:
    """A Chromium or Chrome binary: ``$STYLENORM_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on PATH."""
    configured = os.environ.get("STYLENORM_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.integration
def test_without_a_browser_the_message_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("STYLENORM_CHROMIUM", raising=False)
    assert find_chromium() is None
    monkeypatch.setenv("STYLENORM_CHROMIUM", str(tmp_path / "missing-chrome"))
    assert find_chromium() is None
    assert "apt-get install -y chromium" in HOW_TO_GET_A_BROWSER


def no_browser(reason: str) -> None:
    """Skip with ``reason``, or fail under CI (``CI=true``), where a browser is part of the job."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        no_browser(HOW_TO_GET_A_BROWSER.format(names=", ".join(CHROMIUM_NAMES)))
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        no_browser("Playwright is not installed: pip install -e '.[dev]' (it is in the dev extra).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def wait_for_page(url: str, server: subprocess.Popen, log: Path) -> None:
    """Until ``url`` answers; the server's output in the failure message if it exits or never answers."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"stylenorm-demo exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"stylenorm-demo did not answer at {url} within {PATIENCE_S} s:\n{log.read_text()}")


@contextlib.contextmanager
def demo_server(folder: Path, *options: str):
    """``stylenorm-demo <options>`` started in ``folder`` on a free port of 127.0.0.1, as the README starts it;
    yields its URL and its log file."""
    console_script = Path(sys.executable).parent / "stylenorm-demo"
    command = [str(console_script)] if console_script.exists() else [sys.executable, "-m", "stylenorm.demo"]
    port = free_port()
    command += [*options, "--port", str(port), "--device", "cpu", "--precision", "fp32"]
    env = {**os.environ, "GRADIO_TEMP_DIR": str(folder / "gradio")}
    log = folder / "server.log"
    with open(log, "w") as output:
        server = subprocess.Popen(command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(url, server, log)
        yield url, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """``stylenorm-demo --runs <the two runs>``."""
    runs = train_demo_runs(tmp_path_factory.getbasetemp() / "demo_runs")
    folder = tmp_path_factory.mktemp("demo_server")
    with demo_server(folder, "--runs", str(runs / "checkpoints"), "--runs", str(runs / "logs")) as (url, _log):
        yield url


def open_tab(browser, url: str):
    """A fresh tab on the page; every request it makes is kept in ``tab.requests_made``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(PATIENCE_S * 1000)
    tab.requests_made = []
    tab.on("request", lambda request: tab.requests_made.append(request.url))
    tab.goto(url)
    return context, tab


@pytest.fixture
def page(browser, demo_url):
    context, tab = open_tab(browser, demo_url)
    tab.wait_for_selector("#checkpoints input[type=checkbox]")
    yield tab
    context.close()


def status_contains(page, text: str) -> None:
    page.wait_for_function("text => document.querySelector('#status').innerText.includes(text)", arg=text)


def images_of(page, selector: str) -> list[np.ndarray]:
    sources = page.eval_on_selector_all(selector, "imgs => imgs.map(img => img.src)")
    return [np.asarray(Image.open(BytesIO(page.request.get(src).body())).convert("RGB")) for src in sources]


def stylize_two(page, tmp_path) -> None:
    for kind in ("instance", "batch"):
        page.locator("#checkpoints label", has_text=f"autoencoder · {kind}, affine=True").locator("input").check()
    page.set_input_files("#upload input[type=file]", str(photo(tmp_path / "in.png", 70, 50)))
    status_contains(page, "Input: in.png, 70x50 px")
    page.click("#stylize")
    page.wait_for_function("() => document.querySelectorAll('#results img').length === 3")
    status_contains(page, "2 of 2 stylized")
    page.wait_for_function("() => [...document.querySelectorAll('#results img')].every(img => img.complete)")


@pytest.mark.integration
def test_two_checkpoints_side_by_side_in_the_browser(page, demo_url, tmp_path):
    stylize_two(page, tmp_path)
    shown = page.eval_on_selector_all("#results img", "imgs => imgs.map(img => [img.naturalWidth, img.naturalHeight])")
    assert shown == [[70, 50], [70, 50], [70, 50]]  # the input, then the results, at full resolution
    original, *images = images_of(page, "#results img")
    assert np.array_equal(original, np.asarray(Image.open(tmp_path / "in.png").convert("RGB")))  # the input first
    assert not np.array_equal(images[0], images[1])  # instance and batch norm give different pictures
    assert page.locator("#downloads a").count() >= 2  # the PNGs to download
    assert {urlsplit(url).hostname for url in page.requests_made if not url.startswith("data:")} == {"127.0.0.1"}


@pytest.mark.integration
def test_captions_and_download_names_are_complete(page, tmp_path):
    stylize_two(page, tmp_path)
    captions = page.eval_on_selector_all(
        "#results .caption-label",
        "labels => labels.map(l => [l.innerText, l.scrollWidth <= l.clientWidth + 1, "
        "l.scrollHeight <= l.clientHeight + 1])",
    )
    assert captions[0][0] == "Input: in.png, 70x50 px"
    for kind, (text, fits_across, fits_down) in zip(("instance", "batch"), captions[1:], strict=True):
        assert text.startswith(f"autoencoder: {kind}, affine=True (") and "last.ckpt" in text, text
        assert fits_across and fits_down, f"caption cut off: {text}"  # wrapped, not ellipsised
    names = page.eval_on_selector_all(
        "#downloads a", "links => links.map(a => decodeURIComponent(a.href).split('/').pop())"
    )
    assert any(name.startswith("1_autoencoder_instance_affine-True_") for name in names), names
    assert any(name.startswith("2_autoencoder_batch_affine-True_") for name in names), names
    # the tables fit their panel: no horizontal scrolling
    widths = page.eval_on_selector_all(
        ".table-wrap, .table-container", "ts => ts.map(t => t.scrollWidth - t.clientWidth)"
    )
    assert widths and max(widths) <= 1, widths


@pytest.mark.integration
def test_the_difference_map_of_two_results(page, tmp_path):
    stylize_two(page, tmp_path)
    page.wait_for_selector("#difference img")
    page.wait_for_function("() => document.querySelector('#difference img').complete")
    (difference,) = images_of(page, "#difference img")
    _, first, second = images_of(page, "#results img")
    assert difference.shape == first.shape
    expected = np.abs(first.astype(float) - second).mean(axis=2)
    text = page.inner_text("#difference-caption")
    assert f"mean {np.abs(first.astype(float) - second).mean():.2f}" in text, text
    assert f"largest {expected.max():.0f} gray levels" in text, text
    # the map is dark where the results agree and bright where they differ most
    assert difference[expected == expected.max()].mean() > difference[expected <= np.percentile(expected, 10)].mean()
    # against the input, picked in the first list
    page.locator("#diff-first input").click()
    page.get_by_role("option", name=re.compile(r"^0: Input")).click()
    page.click("#show-difference")
    page.wait_for_function(
        "old => !document.querySelector('#difference-caption').innerText.includes(old)", arg=text.split(";")[0]
    )
    assert "0_input_in" in page.inner_text("#difference-caption")


@pytest.mark.integration
def test_with_no_checkpoints_the_page_trains_examples_and_uses_them(browser, tmp_path):
    with demo_server(tmp_path, "--example-steps", "2") as (url, log):
        context, tab = open_tab(browser, url)
        try:
            tab.wait_for_selector("#train-examples")
            assert "No checkpoints found" in tab.inner_text("#examples")
            tab.click("#train-examples")
            status_contains(tab, "3 example checkpoints trained and ticked")
            assert tab.locator("#examples").is_hidden()
            labels = tab.eval_on_selector_all(
                "#checkpoints label", "ls => ls.filter(l => l.querySelector('input').checked).map(l => l.innerText)"
            )
            assert len(labels) == 3
            assert {kind for kind in ("instance", "batch", "none") for label in labels if f"· {kind}," in label} == {
                "instance",
                "batch",
                "none",
            }
            tab.click("#stylize")
            status_contains(tab, "3 of 3 stylized")
        finally:
            context.close()
        assert "set `share=True`" not in log.read_text()  # our --share hint instead of Gradio's
        assert "stylenorm-demo --share also makes a public link" in log.read_text()
    assert len(list((tmp_path / "checkpoints" / "examples").rglob("last.ckpt"))) == 3


@pytest.mark.integration
def test_a_file_that_is_not_an_image_is_named_and_the_page_keeps_working(page, tmp_path):
    (tmp_path / "notes.txt").write_text("shopping list: milk, bread\n")
    page.set_input_files("#upload input[type=file]", str(tmp_path / "notes.txt"))
    status_contains(page, "notes.txt is not an image")
    assert page.locator("#preview img").count() == 0  # no stale preview of an earlier image
    page.locator("#checkpoints input[type=checkbox]").first.check()
    page.locator("#upload").get_by_role("button", name="Clear").click()  # then a sample image works
    status_contains(page, "Input: sample")
    page.click("#stylize")
    status_contains(page, "1 of 1 stylized")
