"""The web page: Gradio Blocks over a :class:`~stylenorm.demo.session.DemoSession`.

Gradio is the field's convention for model demo pages (and gives every event a named HTTP endpoint,
so scripts can call the page with ``gradio_client``). Everything runs offline: analytics and the
version check are off (set before Gradio is imported, and on the Blocks), the theme's fonts are
served by the page itself, and no share link is made unless asked for.

Layout: the inputs on the left (image upload or sample, the checkpoint list, the model controls),
three tabs on the right - "Side by side" (results at the input's size, captioned with each run's norm
settings and time, downloadable), "Why they differ" (per-layer activation statistics around the norm
layers) and "Lighting" (brightness/contrast sliders and how far each output moves). Problems (a file
that is not an image, a checkpoint that does not load) are written in the status line above the
tabs; the page keeps working.

Endpoints (``api_name``): ``/check_image``, ``/stylize``, ``/statistics``, ``/lighting``,
``/refresh_checkpoints``.
"""

from __future__ import annotations

import os

# Before Gradio is imported: no telemetry and no version check (both would reach the internet).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr

from stylenorm.demo.activations import STATISTICS_COLUMNS
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import Controls, parse_style, parse_weights
from stylenorm.demo.samples import SAMPLES
from stylenorm.demo.session import DemoSession
from stylenorm.demo.video import add_video_tab
from stylenorm.inference.pipeline import to_image

TITLE = "stylenorm: normalization variants side by side"

INTRO = (
    "Upload an image (or pick a sample), tick two or more checkpoints and press **Stylize**. "
    "*Side by side*: each checkpoint's result at the input's size. *Why they differ*: the activations' "
    "per-channel mean and std before and after every norm layer, on your image. *Lighting*: change the "
    "input's brightness and contrast and see whose output moves."
)

TIMING_COLUMNS = ["checkpoint", "norm", "time (s)", "load (s)", "size"]
LIGHTING_COLUMNS = ["checkpoint", "norm", "change (gray levels)"]

#: The default that tells Gradio a handler reports progress (it passes a fresh tracker per call).
TRACKER = gr.Progress()

#: Page styling: the status line stands out; nothing is fetched from elsewhere.
CSS = "#status {min-height: 1.5em} #status p {margin: 0.2em 0}"


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


def checkpoint_choices(session: DemoSession) -> list[tuple[str, str]]:
    """``(label, path)`` pairs for the checkpoint list, the session's order."""
    return [(entry.label(), str(entry.path)) for entry in session.entries]


def controls_from(direction, style, style_images, style_weights, alpha, preserve_color) -> Controls:
    """The model controls of the page as :class:`Controls` (:class:`DemoError` for unreadable text)."""
    images = tuple(str(path) for path in (style_images or []))
    return Controls(
        direction=direction or "AtoB",
        style=parse_style(style),
        style_images=images,
        style_weights=parse_weights(style_weights),
        alpha=float(alpha),
        preserve_color=bool(preserve_color),
    )


def _progress_callback(progress: gr.Progress):
    return lambda fraction, description: progress(fraction, desc=description)


def build_page(session: DemoSession) -> gr.Blocks:
    """The page for ``session``; start it with :func:`serve`."""

    def check_image(upload, sample):
        """Preview the chosen input, or say what is wrong with it."""
        try:
            prepared = session.read(upload, sample)
        except DemoError as error:
            return None, _problem(str(error))
        height, width = prepared.size
        source = os.path.basename(upload) if upload else f"sample {sample}"
        return to_image(prepared.pixels, prepared.alpha), (f"Input: {source}, {width}x{height} px.")

    def stylize(
        upload,
        sample,
        checkpoints,
        direction,
        style,
        style_images,
        style_weights,
        alpha,
        preserve,
        progress=TRACKER,
    ):
        """Each selected checkpoint's result, captioned, with the files to download and the timings."""
        try:
            controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
            results = session.stylize(
                upload, checkpoints, controls, sample=sample, progress=_progress_callback(progress)
            )
        except DemoError as error:
            return [], None, [], _problem(str(error))
        except Exception as error:  # the page must survive anything: say what happened
            return [], None, [], _problem(_describe_unexpected(error))
        done = [result for result in results if result.image is not None]
        gallery = [(str(result.path), result.caption()) for result in done]
        rows = [[r.entry.name, r.entry.norm_label, round(r.seconds, 3), round(r.load_seconds, 3),
                 f"{r.image.width}x{r.image.height}"] for r in done]  # fmt: skip
        summary = f"{len(done)} of {len(results)} stylized." if done else ""
        return (
            gallery,
            [str(r.path) for r in done] or None,
            rows,
            _status(summary, [r.error for r in results if r.error]),
        )

    def statistics(
        upload,
        sample,
        checkpoints,
        direction,
        style,
        style_images,
        style_weights,
        alpha,
        preserve,
        progress=TRACKER,
    ):
        """The per-layer statistics plot and table."""
        try:
            controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
            figure, rows, notes = session.statistics(
                upload, checkpoints, controls, sample=sample, progress=_progress_callback(progress)
            )
        except DemoError as error:
            return None, [], _problem(str(error))
        except Exception as error:
            return None, [], _problem(_describe_unexpected(error))
        measured = len({row[0] for row in rows})
        return figure, rows, _status(f"Statistics of {measured} network(s) measured." if rows else "", notes, _note)

    def lighting(
        upload,
        sample,
        checkpoints,
        direction,
        style,
        style_images,
        style_weights,
        alpha,
        preserve,
        brightness,
        contrast,
        progress=TRACKER,
    ):
        """The relit input, each output on it, and how far each moved."""
        try:
            controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
            relit, results = session.lighting(
                upload, checkpoints, controls, brightness=brightness, contrast=contrast, sample=sample,
                progress=_progress_callback(progress),
            )  # fmt: skip
        except DemoError as error:
            return None, [], [], _problem(str(error))
        except Exception as error:
            return None, [], [], _problem(_describe_unexpected(error))
        done = [result for result in results if result.image is not None]
        gallery = [(result.image, result.caption()) for result in done]
        rows = [[r.entry.name, r.entry.norm_label, round(r.change, 2)] for r in done]
        summary = f"Lighting: brightness {brightness:+.2f}, contrast x{contrast:.2f}." if done else ""
        return relit, gallery, rows, _status(summary, [r.error for r in results if r.error])

    def refresh():
        session.refresh()
        return gr.CheckboxGroup(choices=checkpoint_choices(session)), f"{len(session.entries)} checkpoint(s) found."

    # delete_cache: Gradio's copies of uploads and results older than an hour go, checked hourly.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Your image (PNG, JPEG, WebP, BMP, TIFF, GIF)", type="filepath",
                                 elem_id="upload")  # fmt: skip
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
                                               column_widths=["40%", "21%", "13%", "13%", "13%"])  # fmt: skip
                    with gr.Tab("Why they differ", id="statistics"):
                        gr.Markdown(
                            "Activations entering (dashed) and leaving (solid) each norm layer of the network, on "
                            "your image: per channel over height and width, the average |mean| and std. Instance "
                            "norm without affine reads 0 and 1 after every layer; batch norm in eval mode uses its "
                            "running statistics and does not; affine layers move the values by their learned "
                            "scale and shift."
                        )
                        statistics_button = gr.Button("Measure", elem_id="measure")
                        plot = gr.Plot(label="Per-layer statistics", show_label=False, elem_id="statistics-plot")
                        with gr.Accordion("The numbers", open=False):
                            table = gr.Dataframe(headers=STATISTICS_COLUMNS, show_label=False, interactive=False)
                    with gr.Tab("Lighting", id="lighting"):
                        gr.Markdown(
                            "Relight the input and see which networks change their output (the number: mean "
                            "absolute change in gray levels). Instance norm removes a change of brightness and "
                            "contrast per channel; batch norm with running statistics passes it on."
                        )
                        with gr.Row():
                            brightness = gr.Slider(-0.5, 0.5, value=-0.15, step=0.05, label="Brightness")
                            contrast = gr.Slider(0.2, 2.0, value=0.7, step=0.05, label="Contrast (x)")
                        lighting_button = gr.Button("Compare under this lighting", elem_id="relight")
                        with gr.Row():
                            relit = gr.Image(label="Relit input", interactive=False, height=260)
                            lit_gallery = gr.Gallery(label="Outputs on the relit input", columns=2, height=260)
                        changes = gr.Dataframe(headers=LIGHTING_COLUMNS, label="How far each output moved",
                                               interactive=False, column_widths=["50%", "25%", "25%"])  # fmt: skip

        model_inputs = [upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve]
        # One queue for everything that runs networks: hooks on a shared network must not interleave.
        work = {"concurrency_id": "networks", "concurrency_limit": 1}
        upload.change(check_image, [upload, sample], [preview, status], api_name="check_image")
        sample.change(check_image, [upload, sample], [preview, status], api_name=False)
        page.load(check_image, [upload, sample], [preview, status], api_name=False)
        run_button.click(stylize, model_inputs, [gallery, downloads, timings, status], api_name="stylize", **work)
        statistics_button.click(statistics, model_inputs, [plot, table, status], api_name="statistics", **work)
        lighting_inputs = [*model_inputs, brightness, contrast]
        lighting_outputs = [relit, lit_gallery, changes, status]
        lighting_button.click(lighting, lighting_inputs, lighting_outputs, api_name="lighting", **work)
        for slider in (brightness, contrast):  # live: on release, not on every pixel of a drag
            slider.release(lighting, lighting_inputs, lighting_outputs, api_name=False, **work)
        refresh_button.click(refresh, None, [checkpoints, status], api_name="refresh_checkpoints")
        with tabs:  # the Video tab (stylenorm/demo/video.py)
            add_video_tab(session, checkpoints, model_inputs[3:], status, work)
    return page


def serve(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, share: bool = False, block: bool = True):
    """Start ``page`` on ``host:port``; returns Gradio's ``(app, local_url, share_url)``.

    ``block=False`` returns at once with the server running in a thread (``page.close()`` stops it).
    No share link unless ``share`` (Gradio's tunnel needs the internet); the footer links to the
    endpoint list only, not out of the page.
    """
    return page.queue().launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        prevent_thread_lock=not block,
        footer_links=["api"],
        max_file_size="200mb",  # Gradio refuses bigger uploads itself; read_input then checks the pixels
        theme=gr.themes.Default(),  # its fonts are served by the page itself (LocalFont), not a font CDN
        css=CSS,
    )
