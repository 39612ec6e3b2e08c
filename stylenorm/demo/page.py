"""The web page: Gradio Blocks over a :class:`~stylenorm.demo.session.DemoSession`.

Gradio is the field's convention for model demo pages and gives every event a named HTTP endpoint for
``gradio_client`` (``api_name``: ``/check_image``, ``/stylize``, ``/difference``, ``/statistics``,
``/lighting``, ``/refresh_checkpoints``, ``/train_examples``). Everything runs offline: analytics and the
version check are off (set before Gradio is imported, and on the Blocks), the fonts are served by the page and
no share link is made unless asked for. Problems go to the status line and the page keeps working; with no
checkpoints it offers to train examples (:mod:`stylenorm.demo.examples`). Layout and tabs: docs/demo.md.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

# Before Gradio is imported: no telemetry and no version check (both would reach the internet).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr
from PIL import Image

from stylenorm.demo.activations import STATISTICS_COLUMNS
from stylenorm.demo.difference import difference_map
from stylenorm.demo.examples import DEFAULT_EXAMPLE_STEPS, EXAMPLE_KINDS, train_examples
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.lighting import invariance_note
from stylenorm.demo.models import controls_from
from stylenorm.demo.samples import SAMPLES
from stylenorm.demo.session import LARGE_QUEUE, DemoSession
from stylenorm.demo.video import add_video_tab
from stylenorm.inference.pipeline import to_image

TITLE = "stylenorm: normalization variants side by side"

INTRO = (
    "Upload an image (or pick a sample), tick two or more checkpoints and press **Stylize**. "
    "*Side by side*: each checkpoint's result at the input's size. *Why they differ*: the activations' "
    "per-channel mean and std before and after every norm layer, on your image. *Lighting*: change the "
    "input's brightness and contrast and see whose output moves."
)

TIMING_COLUMNS = ["result", "time (s)", "load (s)", "size"]
LIGHTING_COLUMNS = ["result", "change (gray levels)"]
#: The statistics table's columns fit the panel: the long ones wrap.
STATISTICS_WIDTHS = ["24%", "5%", "19%", "14%", "9.5%", "9.5%", "9.5%", "9.5%"]

#: The default that tells Gradio a handler reports progress (it passes a fresh tracker per call).
TRACKER = gr.Progress()

#: Page styling: the status line stands out; gallery captions wrap instead of being cut off; nothing is
#: fetched from elsewhere.
CSS = (
    "#status {min-height: 1.5em} #status p {margin: 0.2em 0} "
    "#results .caption-label, #lit-results .caption-label "
    "{white-space: normal; max-width: 100%; left: 0; opacity: 0.92; overflow-wrap: anywhere}"
)


# Words, not emoji: a browser without an emoji font (headless Chromium on a server) shows boxes.
def _problem(text: str) -> str:
    return f"**Problem:** {text}"


def _note(text: str) -> str:
    return f"**Note:** {text}"


def _status(done: str, problems: list[str], mark=_problem) -> str:
    """A status line: what worked, then one line per problem (or note)."""
    lines = [done] if done else []
    lines += [mark(problem) for problem in problems]
    return "\n\n".join(lines)


def _describe_unexpected(error: Exception) -> str:
    """An error nobody anticipated, still shown on the page (with its type), rather than a blank result."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"Unexpected {type(error).__name__}{': ' + text if text else ''}"


def _survives(*empty):
    """A handler that shows any error in the status line, its other outputs ``empty``: the page must survive
    anything. A :class:`DemoError` is said as it is, anything else with its type (:func:`_describe_unexpected`)."""

    def wrap(handler):
        @functools.wraps(handler)  # Gradio reads the handler's signature: its progress and request arguments
        def guarded(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except DemoError as error:
                return (*empty, _problem(str(error)))
            except Exception as error:
                return (*empty, _problem(_describe_unexpected(error)))

        return guarded

    return wrap


def checkpoint_choices(session: DemoSession) -> list[tuple[str, str]]:
    """``(label, path)`` pairs for the checkpoint list, the session's order."""
    return [(entry.label(), str(entry.path)) for entry in session.entries]


def _progress_callback(progress: gr.Progress):
    return lambda fraction, description: progress(fraction, desc=description)


def queue_note(session: DemoSession) -> str:
    """What the page says about large images (:class:`~stylenorm.demo.session.DemoSession`'s two lanes)."""
    large = session.large_pixels / 1e6
    limit = f"up to {session.max_pixels / 1e6:g} megapixels" if session.max_pixels else "of any size"
    return (
        f"Images up to {large:g} megapixels are stylized at once. Larger ones ({limit}) wait in a queue of "
        f"their own, one at a time, one per visitor and at most {LARGE_QUEUE} waiting, so they never hold up "
        f"smaller ones."
    )


def build_page(session: DemoSession, example_steps: int = DEFAULT_EXAMPLE_STEPS) -> gr.Blocks:
    """The page for ``session``; start it with :func:`serve`. ``example_steps``: steps of each example run."""

    def check_image(upload, sample):
        """Preview the chosen input, or say what is wrong with it."""
        try:
            prepared = session.read(upload, sample)
        except DemoError as error:
            return None, _problem(str(error))
        height, width = prepared.size
        source = os.path.basename(upload) if upload else f"sample {sample}"
        return to_image(prepared.pixels, prepared.alpha), (f"Input: {source}, {width}x{height} px.")

    @_survives([], None, [], gr.Dropdown(choices=[]), gr.Dropdown(choices=[]))
    def stylize(upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve,
                progress=TRACKER, request: gr.Request = None):  # fmt: skip
        """The input and each selected checkpoint's result, captioned, with the files to download, the
        timings and the choices of the difference map."""
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        prepared = session.read(upload, sample)
        results = session.stylize(
            prepared, checkpoints, controls, progress=_progress_callback(progress),
            visitor=getattr(request, "session_hash", None),
        )  # fmt: skip
        done = [result for result in results if result.image is not None]
        tiles = [(str(result.path), result.caption()) for result in done]
        if done:  # the input first, beside the results, at the same size
            height, width = prepared.size
            source = os.path.basename(upload) if upload else f"sample {sample}"
            input_file = done[0].path.parent / f"0_input_{Path(source).stem}.png"
            to_image(prepared.pixels, prepared.alpha).save(input_file)
            tiles.insert(0, (str(input_file), f"Input: {source}, {width}x{height} px"))
        rows = [[r.entry.caption(r.settings), round(r.seconds, 3), round(r.load_seconds, 3),
                 f"{r.image.width}x{r.image.height}"] for r in done]  # fmt: skip
        summary = f"{len(done)} of {len(results)} stylized." if done else ""
        choices = [(f"{index}: {caption}", path) for index, (path, caption) in enumerate(tiles)]
        first, second = (choices[1][1], choices[2][1]) if len(choices) > 2 else (None, None)
        if len(choices) == 2:
            first, second = choices[0][1], choices[1][1]
        return (
            tiles,
            [str(r.path) for r in done] or None,
            rows,
            gr.Dropdown(choices=choices, value=first),
            gr.Dropdown(choices=choices, value=second),
            _status(summary, [r.error for r in results if r.error]),
        )

    def difference(first, second):
        """The difference map of two tiles of the comparison and what it shows."""
        if not first or not second:
            return None, "Stylize first, then pick two images of the comparison."
        try:
            with Image.open(first) as a, Image.open(second) as b:
                found = difference_map(a, b)
        except DemoError as error:
            return None, _problem(str(error))
        except OSError as error:
            return None, _problem(f"The images of that comparison are gone ({error.strerror}): stylize again.")
        return found.image, found.caption(Path(first).stem, Path(second).stem)

    @_survives(None, [])
    def statistics(
        upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve, progress=TRACKER
    ):
        """The per-layer statistics plot and table."""
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        figure, rows, notes = session.statistics(
            upload, checkpoints, controls, sample=sample, progress=_progress_callback(progress)
        )
        measured = len({row[0] for row in rows})
        return figure, rows, _status(f"Statistics of {measured} network(s) measured." if rows else "", notes, _note)

    @_survives(None, [], [], "")
    def lighting(upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve,
                 brightness, contrast, progress=TRACKER):  # fmt: skip
        """The relit input, each output on it, and how far each moved."""
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        relit, results, clipped = session.lighting(
            upload, checkpoints, controls, brightness=brightness, contrast=contrast, sample=sample,
            progress=_progress_callback(progress),
        )  # fmt: skip
        done = [result for result in results if result.image is not None]
        gallery = [(result.image, result.caption()) for result in done]
        rows = [[r.entry.caption(r.settings), round(r.change, 2)] for r in done]
        summary = f"Lighting: brightness {brightness:+.2f}, contrast x{contrast:.2f}." if done else ""
        note = f"**Clipped: {100 * clipped:.1f}%.** {invariance_note(clipped)}"
        return relit, gallery, rows, note, _status(summary, [r.error for r in results if r.error])

    def refresh():
        session.refresh()
        found = f"{len(session.entries)} checkpoint(s) found."
        return gr.CheckboxGroup(choices=checkpoint_choices(session)), gr.Group(visible=not session.entries), found

    def make_examples(progress=TRACKER):
        """Train the example checkpoints, then list and tick them."""
        try:
            folders = train_examples(".", example_steps, _progress_callback(progress))
        except Exception as error:  # a failed run, no configs: say so, keep the page
            return gr.CheckboxGroup(), gr.Group(), _problem(f"The example runs failed: {_describe_unexpected(error)}")
        session.runs += [folder for folder in folders if folder not in session.runs]
        session.refresh()
        examples = [str(e.path) for e in session.entries if folders[0] in e.path.parents]
        return (
            gr.CheckboxGroup(choices=checkpoint_choices(session), value=examples),
            gr.Group(visible=False),
            f"{len(examples)} example checkpoints trained and ticked: press **Stylize**.",
        )

    # delete_cache: Gradio's copies of uploads and results older than an hour go, checked hourly.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Your image (PNG, JPEG, WebP, BMP, TIFF, GIF)", type="filepath",
                                 elem_id="upload")  # fmt: skip
                gr.Markdown(queue_note(session), elem_id="queue-note")
                sample = gr.Dropdown(
                    choices=list(SAMPLES), value=next(iter(SAMPLES)), label="…or a sample image", elem_id="sample"
                )
                preview = gr.Image(label="Input", interactive=False, height=220, elem_id="preview")
                checkpoints = gr.CheckboxGroup(
                    choices=checkpoint_choices(session),
                    label="Checkpoints (model · norm · final metrics · run)",
                    info="Found under " + ", ".join(str(folder) for folder in session.runs),
                    elem_id="checkpoints",
                )
                refresh_button = gr.Button("Search for checkpoints again", size="sm")
                with gr.Group(visible=not session.entries, elem_id="examples") as examples_offer:
                    kinds = ", ".join(EXAMPLE_KINDS)
                    gr.Markdown(
                        f"**No checkpoints found.** Train small example checkpoints here ({kinds}: three small "
                        f"autoencoders of {example_steps} steps each on the embedded photo tiles, into "
                        f"checkpoints/examples; the bar shows how long), or point --runs at your own."
                    )
                    examples_button = gr.Button("Train example checkpoints", elem_id="train-examples")
                with gr.Accordion("Model controls (used where a checkpoint has them)", open=False):
                    direction = gr.Radio(["AtoB", "BtoA"], value="AtoB", label="CycleGAN direction (G_AB or G_BA)")
                    style = gr.Textbox(
                        label="Style (conditional instance norm)",
                        placeholder="index, e.g. 0 — or mix weights summing to 1, e.g. 0.3,0.7",
                    )
                    style_images = gr.File(label="AdaIN style image(s)", file_count="multiple", type="filepath")
                    style_weights = gr.Textbox(
                        label="AdaIN style weights (several style images)", placeholder="0.5,0.5"
                    )
                    alpha = gr.Slider(0, 1, value=1, step=0.05, label="AdaIN alpha (content ↔ style)")
                    preserve = gr.Checkbox(label="AdaIN: preserve the content's colours")
                run_button = gr.Button("Stylize", variant="primary", elem_id="stylize")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="status")
                with gr.Tabs() as tabs:
                    with gr.Tab("Side by side", id="compare"):
                        gallery = gr.Gallery(label="Results (click for full size)", columns=3, height="auto",
                                             format="png", object_fit="contain", elem_id="results",
                                             buttons=["download", "fullscreen"])  # fmt: skip
                        downloads = gr.File(label="Download (PNG, input's size)", file_count="multiple",
                                            interactive=False, elem_id="downloads")  # fmt: skip
                        timings = gr.Dataframe(headers=TIMING_COLUMNS, label="Time each took", interactive=False,
                                               wrap=True, column_widths=["58%", "14%", "14%", "14%"])  # fmt: skip
                        with gr.Row(equal_height=True):
                            first = gr.Dropdown(label="Difference map: this image…", elem_id="diff-first", scale=2)
                            second = gr.Dropdown(label="…against this one", elem_id="diff-second", scale=2)
                            difference_button = gr.Button("Show difference", elem_id="show-difference", scale=1)
                        difference_image = gr.Image(label="Difference map", interactive=False, format="png",
                                                    elem_id="difference")  # fmt: skip
                        difference_caption = gr.Markdown(elem_id="difference-caption")
                    with gr.Tab("Why they differ", id="statistics"):
                        gr.Markdown(
                            "Activations entering (dashed) and leaving (solid) each norm layer of the network, on "
                            "your image: per channel over height and width, the average |mean| and std. Instance "
                            "norm without affine reads 0 and 1 after every layer; batch norm in eval mode uses its "
                            "running statistics and does not; affine layers move the values by their learned "
                            "scale and shift. Measured with every Stylize."
                        )
                        statistics_button = gr.Button("Measure again", elem_id="measure")
                        plot = gr.Plot(label="Per-layer statistics", show_label=False, elem_id="statistics-plot")
                        with gr.Accordion("The numbers", open=False):
                            table = gr.Dataframe(headers=STATISTICS_COLUMNS, show_label=False, interactive=False,
                                                 wrap=True, column_widths=STATISTICS_WIDTHS)  # fmt: skip
                    with gr.Tab("Lighting", id="lighting"):
                        gr.Markdown(
                            "Relight the input and see which networks change their output (the number: mean "
                            "absolute change in gray levels). Instance norm removes a change of brightness and "
                            "contrast per channel as long as nothing clips; batch norm with running statistics "
                            "passes it on."
                        )
                        with gr.Row():
                            brightness = gr.Slider(-0.5, 0.5, value=-0.15, step=0.05, label="Brightness")
                            contrast = gr.Slider(0.2, 2.0, value=0.7, step=0.05, label="Contrast (x)")
                        lighting_button = gr.Button("Compare under this lighting", elem_id="relight")
                        with gr.Row():
                            relit = gr.Image(label="Relit input", interactive=False, height=260)
                            lit_gallery = gr.Gallery(
                                label="Outputs on the relit input", columns=2, height=260, elem_id="lit-results"
                            )
                        changes = gr.Dataframe(headers=LIGHTING_COLUMNS, label="How far each output moved",
                                               interactive=False, wrap=True, column_widths=["75%", "25%"])  # fmt: skip
                        clipping = gr.Markdown(elem_id="clipping")

        model_inputs = [upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve]
        # Up to 8 requests at once: the session's two lanes decide what runs together (session.py).
        work = {"concurrency_id": "networks", "concurrency_limit": 8}
        upload.change(check_image, [upload, sample], [preview, status], api_name="check_image")
        sample.change(check_image, [upload, sample], [preview, status], api_name=False)
        page.load(check_image, [upload, sample], [preview, status], api_name=False)
        stylized = run_button.click(
            stylize, model_inputs, [gallery, downloads, timings, first, second, status], api_name="stylize", **work
        )
        difference_outputs = [difference_image, difference_caption]
        stylized.then(difference, [first, second], difference_outputs, api_name=False).then(
            statistics, model_inputs, [plot, table, status], api_name=False, **work
        )
        difference_button.click(difference, [first, second], difference_outputs, api_name="difference")
        statistics_button.click(statistics, model_inputs, [plot, table, status], api_name="statistics", **work)
        lighting_inputs = [*model_inputs, brightness, contrast]
        lighting_outputs = [relit, lit_gallery, changes, clipping, status]
        lighting_button.click(lighting, lighting_inputs, lighting_outputs, api_name="lighting", **work)
        for slider in (brightness, contrast):  # live: on release, not on every pixel of a drag
            slider.release(lighting, lighting_inputs, lighting_outputs, api_name=False, **work)
        refresh_button.click(refresh, None, [checkpoints, examples_offer, status], api_name="refresh_checkpoints")
        examples_button.click(
            make_examples, None, [checkpoints, examples_offer, status], api_name="train_examples",
            concurrency_id="examples", concurrency_limit=1,
        )  # fmt: skip
        with tabs:  # the Video tab (stylenorm/demo/video.py)
            add_video_tab(session, checkpoints, model_inputs[3:], status, work)
    return page


def serve(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, share: bool = False, block: bool = True):
    """Start ``page`` on ``host:port``; returns Gradio's ``(app, local_url, share_url)``.

    ``block=False`` returns at once with the server running in a thread (``page.close()`` stops it).
    No share link unless ``share`` (Gradio's tunnel needs the internet); the footer links to the
    endpoint list only, not out of the page.
    """
    launched = page.queue().launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=True,  # Gradio's own lines advise share=True in launch(); ours name the --share option
        footer_links=["api"],
        max_file_size="200mb",  # Gradio refuses bigger uploads itself; read_input then checks the pixels
        theme=gr.themes.Default(),  # its fonts are served by the page itself (LocalFont), not a font CDN
        css=CSS,
    )
    _app, local_url, share_url = launched
    print(f"stylenorm-demo: running on {local_url}", flush=True)
    if share_url:
        print(f"stylenorm-demo: public link (anyone with it can use the page): {share_url}", flush=True)
    else:
        print("stylenorm-demo: this machine only; stylenorm-demo --share also makes a public link.", flush=True)
    if block:
        page.block_thread()
    return launched
