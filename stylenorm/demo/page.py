"""The web page: Gradio Blocks over a :class:`~stylenorm.demo.session.DemoSession`, offline (no analytics, version
check or font CDN), every event a named endpoint for ``gradio_client``; problems go to the status line and the page
keeps working. Layout, tabs and endpoints: docs/demo.md.
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
from stylenorm.demo.compare import COLUMNS, MAX_FRAMES, MAX_SIDE, compare_clip, difference_map, invariance_note
from stylenorm.demo.examples import DEFAULT_EXAMPLE_STEPS, EXAMPLE_KINDS, train_examples
from stylenorm.demo.inputs import SAMPLES, DemoError, first_line
from stylenorm.demo.models import controls_from
from stylenorm.demo.session import LARGE_QUEUE, DemoSession
from stylenorm.inference.pipeline import to_image

TITLE = "stylenorm: normalization variants side by side"

FRAME_STATISTICS = ["per-frame", "window:5", "clip"]
TRACKER = gr.Progress()  # the default that tells Gradio a handler reports progress (a fresh tracker per call)

#: The status line stands out; gallery captions wrap instead of being cut off.
CSS = (
    "#status {min-height: 1.5em} #status p {margin: 0.2em 0} "
    "#results .caption-label, #lit-results .caption-label "
    "{white-space: normal; max-width: 100%; left: 0; opacity: 0.92; overflow-wrap: anywhere}"
)


def _status(done: str, problems: list[str], mark: str = "Problem") -> str:
    """What worked, then a line per problem (words, not emoji: a browser without an emoji font shows boxes)."""
    return "\n\n".join(([done] if done else []) + [f"**{mark}:** {problem}" for problem in problems])


def _survives(*empty, failing: str = ""):
    """The handler, any error said in the status line (a :class:`DemoError` as is, others with their type) and its
    other outputs ``empty``: the page survives anything."""

    def wrap(handler):
        @functools.wraps(handler)  # Gradio reads the handler's signature: its progress and request arguments
        def guarded(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as error:
                unexpected = ": ".join(filter(None, [f"Unexpected {type(error).__name__}", first_line(error)]))
                text = str(error) if isinstance(error, DemoError) else unexpected
                return (*empty, _status("", [failing + text]))

        return guarded

    return wrap


def checkpoint_choices(session: DemoSession) -> list[tuple[str, str]]:
    return [(entry.label(), str(entry.path)) for entry in session.entries]


def _input_caption(upload, sample, prepared) -> str:
    height, width = prepared.size
    return f"Input: {os.path.basename(upload) if upload else f'sample {sample}'}, {width}x{height} px"


def build_page(session: DemoSession, example_steps: int = DEFAULT_EXAMPLE_STEPS) -> gr.Blocks:
    """The page for ``session`` (start it with :func:`serve`); ``example_steps``: steps of each example run."""

    @_survives(None)
    def check_image(upload, sample):
        prepared = session.read(upload, sample)
        return to_image(prepared.pixels, prepared.alpha), _input_caption(upload, sample, prepared) + "."

    @_survives([], None, [], gr.Dropdown(choices=[]), gr.Dropdown(choices=[]))
    def stylize(upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve,
                progress=TRACKER, request: gr.Request = None):  # fmt: skip
        """The input and each result, captioned; the downloads, the timings and the difference map's choices."""
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        prepared = session.read(upload, sample)
        results = session.stylize(
            prepared, checkpoints, controls, progress=progress,
            visitor=getattr(request, "session_hash", None),
        )  # fmt: skip
        done = [result for result in results if result.image is not None]
        tiles = [(str(result.path), result.caption()) for result in done]
        if done:  # the input first, beside the results, at the same size
            input_file = done[0].path.parent / f"0_input_{Path(upload or f'sample {sample}').stem}.png"
            to_image(prepared.pixels, prepared.alpha).save(input_file)
            tiles.insert(0, (str(input_file), _input_caption(upload, sample, prepared)))
        rows = [[r.entry.caption(r.settings), round(r.seconds, 3), round(r.load_seconds, 3),
                 f"{r.image.width}x{r.image.height}"] for r in done]  # fmt: skip
        choices = [(f"{index}: {caption}", path) for index, (path, caption) in enumerate(tiles)]
        paths = [path for path, _ in tiles]  # the two results compared first; with one result, it and the input
        first, second = (paths[1:3] if len(paths) > 2 else paths) or (None, None)
        return (
            tiles,
            [str(r.path) for r in done] or None,
            rows,
            gr.Dropdown(choices=choices, value=first),
            gr.Dropdown(choices=choices, value=second),
            _status(f"{len(done)} of {len(results)} stylized." if done else "", [r.error for r in results if r.error]),
        )

    @_survives(None)
    def difference(first, second):
        if not first or not second:
            return None, "Stylize first, then pick two images of the comparison."
        try:
            with Image.open(first) as a, Image.open(second) as b:
                found = difference_map(a, b)
        except OSError as error:
            raise DemoError(f"The images of that comparison are gone ({error.strerror}): stylize again.") from None
        return found.image, found.caption(Path(first).stem, Path(second).stem)

    @_survives(None, [])
    def statistics(
        upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve, progress=TRACKER
    ):
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        figure, rows, notes = session.statistics(upload, checkpoints, controls, sample=sample, progress=progress)
        measured = len({row[0] for row in rows})
        return figure, rows, _status(f"Statistics of {measured} network(s) measured." if rows else "", notes, "Note")

    @_survives(None, [], [], "")
    def lighting(upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve,
                 brightness, contrast, progress=TRACKER):  # fmt: skip
        controls = controls_from(direction, style, style_images, style_weights, alpha, preserve)
        relit, results, clipped = session.lighting(
            upload, checkpoints, controls, brightness=brightness, contrast=contrast, sample=sample,
            progress=progress,
        )  # fmt: skip
        done = [result for result in results if result.image is not None]
        gallery = [(result.image, result.caption()) for result in done]
        rows = [[r.entry.caption(r.settings), round(r.change, 2)] for r in done]
        summary = f"Lighting: brightness {brightness:+.2f}, contrast x{contrast:.2f}." if done else ""
        note = f"**Clipped: {100 * clipped:.1f}%.** {invariance_note(clipped)}"
        return relit, gallery, rows, note, _status(summary, [r.error for r in results if r.error])

    @_survives(None, None, [])
    def stylize_clip(path, checkpoints, left_stats, right_stats, *controls):
        """The first two ticked checkpoints on the clip, each with its frame statistics, and the flicker table."""
        if not path:
            raise DemoError("No clip: upload a short video.")
        entries = [session.entry(checkpoint) for checkpoint in (checkpoints or [])[:2]]
        variants = list(zip(entries, [left_stats, right_stats], strict=False))
        with session._lock:
            videos, rows = compare_clip(
                path, variants, session.models, controls_from(*controls),
                output_dir=session._next_output_folder(), precision=session.options.precision,
            )  # fmt: skip
        paths = [str(video) for video in videos] + [None] * (2 - len(videos))
        return paths[0], paths[1], rows, f"{len(videos)} variant(s) stylized."

    @_survives(gr.CheckboxGroup(), gr.Group())
    def refresh():
        session.refresh()
        found = f"{len(session.entries)} checkpoint(s) found."
        return gr.CheckboxGroup(choices=checkpoint_choices(session)), gr.Group(visible=not session.entries), found

    @_survives(gr.CheckboxGroup(), gr.Group(), failing="The example runs failed: ")
    def make_examples(progress=TRACKER):
        folders = train_examples(".", example_steps, progress)
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
        gr.Markdown(
            f"# {TITLE}\nUpload an image (or pick a sample), tick two or more checkpoints and press **Stylize**. "
            "*Side by side*: each checkpoint's result at the input's size. *Why they differ*: the activations' "
            "per-channel mean and std before and after every norm layer, on your image. *Lighting*: change the "
            "input's brightness and contrast and see whose output moves."
        )
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Your image (PNG, JPEG, WebP, BMP, TIFF, GIF)", elem_id="upload")
                limit = f"up to {session.max_pixels / 1e6:g} megapixels" if session.max_pixels else "of any size"
                gr.Markdown(
                    f"Images up to {session.large_pixels / 1e6:g} megapixels are stylized at once. Larger ones "
                    f"({limit}) wait in a queue of their own, one at a time, one per visitor and at most "
                    f"{LARGE_QUEUE} waiting, so they never hold up smaller ones.",
                    elem_id="queue-note",
                )
                sample = gr.Dropdown(
                    choices=list(SAMPLES), value=next(iter(SAMPLES)), label="…or a sample image", elem_id="sample"
                )
                preview = gr.Image(label="Input", height=220, elem_id="preview")
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
                    style_images = gr.File(label="AdaIN style image(s)", file_count="multiple")
                    style_weights = gr.Textbox(label="AdaIN style weights (several images)", placeholder="0.5,0.5")
                    alpha = gr.Slider(0, 1, value=1, step=0.05, label="AdaIN alpha (content ↔ style)")
                    preserve = gr.Checkbox(label="AdaIN: preserve the content's colours")
                run_button = gr.Button("Stylize", variant="primary", elem_id="stylize")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="status")
                with gr.Tab("Side by side", id="compare"):  # consecutive tabs: Gradio puts them in one gr.Tabs
                    gallery = gr.Gallery(label="Results (click for full size)", columns=3, height="auto", format="png",
                                         object_fit="contain", elem_id="results")  # fmt: skip
                    downloads = gr.File(
                        label="Download (PNG, input's size)", file_count="multiple", elem_id="downloads"
                    )
                    timings = gr.Dataframe(headers=["result", "time (s)", "load (s)", "size"], label="Time each took",
                                           wrap=True, column_widths=["58%", "14%", "14%", "14%"])  # fmt: skip
                    with gr.Row(equal_height=True):
                        first = gr.Dropdown(label="Difference map: this image…", elem_id="diff-first", scale=2)
                        second = gr.Dropdown(label="…against this one", elem_id="diff-second", scale=2)
                        difference_button = gr.Button("Show difference", elem_id="show-difference", scale=1)
                    difference_image = gr.Image(label="Difference map", format="png", elem_id="difference")
                    difference_caption = gr.Markdown(elem_id="difference-caption")
                with gr.Tab("Why they differ", id="statistics"):
                    gr.Markdown(
                        "Activations entering (dashed) and leaving (solid) each norm layer of the network, on your "
                        "image: per channel over height and width, the average |mean| and std. Instance norm without "
                        "affine reads 0 and 1 after every layer; batch norm in eval mode uses its running statistics "
                        "and does not; affine layers move the values by their learned scale and shift. Measured with "
                        "every Stylize."
                    )
                    statistics_button = gr.Button("Measure again", elem_id="measure")
                    plot = gr.Plot(label="Per-layer statistics", show_label=False, elem_id="statistics-plot")
                    with gr.Accordion("The numbers", open=False):  # the columns fit the panel: long ones wrap
                        table = gr.Dataframe(headers=STATISTICS_COLUMNS, show_label=False, wrap=True,
                                             column_widths=["24%", "5%", "19%", "14%", *["9.5%"] * 4])  # fmt: skip
                with gr.Tab("Lighting", id="lighting"):
                    gr.Markdown(
                        "Relight the input and see which networks change their output (the number: mean absolute "
                        "change in gray levels). Instance norm removes a change of brightness and contrast per "
                        "channel as long as nothing clips; batch norm with running statistics passes it on."
                    )
                    with gr.Row():
                        brightness = gr.Slider(-0.5, 0.5, value=-0.15, step=0.05, label="Brightness")
                        contrast = gr.Slider(0.2, 2.0, value=0.7, step=0.05, label="Contrast (x)")
                    lighting_button = gr.Button("Compare under this lighting", elem_id="relight")
                    with gr.Row():
                        relit = gr.Image(label="Relit input", height=260)
                        lit_gallery = gr.Gallery(label="Outputs on the relit input", columns=2, height=260,
                                                 elem_id="lit-results")  # fmt: skip
                    changes = gr.Dataframe(headers=["result", "change (gray levels)"], label="How far each output "
                                           "moved", wrap=True, column_widths=["75%", "25%"])  # fmt: skip
                    clipping = gr.Markdown(elem_id="clipping")
                with gr.Tab("Video", id="video"):
                    gr.Markdown(
                        f"Upload a short clip: the first {MAX_FRAMES} frames, scaled to at most {MAX_SIDE} px, go "
                        "through the first two ticked checkpoints. Numbers: mean change between consecutive frames "
                        "and of the frame's mean colour (gray levels), beside the input's own; without known motion "
                        "they include the clip's motion (the known-motion measurement is scripts/flicker.py)."
                    )
                    clip = gr.Video(label="Your clip (mp4, mov, webm, mkv)", sources=["upload"], elem_id="clip")
                    with gr.Row():
                        left_stats = gr.Radio(FRAME_STATISTICS, value="per-frame", label="Left: statistics")
                        right_stats = gr.Radio(FRAME_STATISTICS, value="per-frame", label="Right: statistics")
                    clip_button = gr.Button("Stylize the clip", elem_id="stylize-clip")
                    with gr.Row():
                        left_video = gr.Video(label="Left")
                        right_video = gr.Video(label="Right")
                    flicker_table = gr.Dataframe(headers=COLUMNS, label="Flicker")

        model_inputs = [upload, sample, checkpoints, direction, style, style_images, style_weights, alpha, preserve]
        # Up to 8 requests at once: the session's two lanes decide what runs together (session.py).
        work = {"concurrency_id": "networks", "concurrency_limit": 8}
        shown = [upload.change, sample.change, page.load]  # "always_last", as for the first: a change is not lost
        gr.on(shown, check_image, [upload, sample], [preview, status], api_name="check_image")
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
        relit_by = [lighting_button.click, brightness.release, contrast.release]  # release: not every pixel of a drag
        gr.on(relit_by, lighting, lighting_inputs, lighting_outputs, api_name="lighting", **work)
        refresh_button.click(refresh, None, [checkpoints, examples_offer, status], api_name="refresh_checkpoints")
        examples_button.click(
            make_examples, None, [checkpoints, examples_offer, status], api_name="train_examples",
            concurrency_id="examples", concurrency_limit=1,
        )  # fmt: skip
        clip_inputs = [clip, checkpoints, left_stats, right_stats, *model_inputs[3:]]
        clip_outputs = [left_video, right_video, flicker_table, status]
        clip_button.click(stylize_clip, clip_inputs, clip_outputs, api_name="stylize_clip", **work)
    return page


def serve(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, share: bool = False, block: bool = True):
    """Start ``page`` on ``host:port``; returns Gradio's ``(app, local_url, share_url)``. ``block=False`` returns at
    once, the server running in a thread (``page.close()`` stops it)."""
    launched = page.queue().launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=True,
        quiet=True,  # Gradio's own lines advise share=True in launch(); ours name the --share option
        footer_links=["api"],  # the endpoint list only, no links out of the page
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
