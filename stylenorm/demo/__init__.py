"""A local web page to compare normalization variants on one's own image (``stylenorm-demo``).

The page (:mod:`stylenorm.demo.page`, Gradio) shows the same image through several checkpoints side
by side, why they differ (activation statistics before and after every norm layer) and which of them
change their output when the input's lighting changes. Everything it does is available from Python
without a server, through :class:`DemoSession`::

    from stylenorm.demo import DemoSession

    session = DemoSession(["checkpoints", "logs"])          # finds .ckpt / .pth files and their runs' metrics
    chosen = [entry.path for entry in session.entries[:2]]
    results = session.stylize("photo.jpg", chosen)           # -> [Result(image, caption(), seconds, ...)]
    figure, rows, notes = session.statistics("photo.jpg", chosen)
    relit, changes, clipped = session.lighting("photo.jpg", chosen, brightness=-0.2, contrast=0.6)

and, with the page running, through its HTTP endpoints (``gradio_client``; README, "Web page").

Modules, one job each: :mod:`~stylenorm.demo.catalog` finds and describes checkpoints
(:mod:`~stylenorm.demo.run_logs` their runs), :mod:`~stylenorm.demo.inputs` reads uploads,
:mod:`~stylenorm.demo.samples` the sample images, :mod:`~stylenorm.demo.models` loads networks once,
:mod:`~stylenorm.demo.compare`, :mod:`~stylenorm.demo.activations` (+ :mod:`~stylenorm.demo.plots`)
and :mod:`~stylenorm.demo.lighting` compute the three views, :mod:`~stylenorm.demo.session` ties them
together, :mod:`~stylenorm.demo.page` is the page and :mod:`~stylenorm.demo.cli` the command. All
loading and stylizing goes through :mod:`stylenorm.inference`. Gradio is imported only by the page.
"""

from stylenorm.demo.activations import LayerStatistics, norm_layer_statistics
from stylenorm.demo.catalog import CheckpointEntry, find_checkpoints
from stylenorm.demo.compare import Result, compare
from stylenorm.demo.inputs import DemoError, read_input
from stylenorm.demo.lighting import LightingResult, lighting_response, relight
from stylenorm.demo.models import Controls, ModelCache
from stylenorm.demo.session import DemoSession

__all__ = [
    "CheckpointEntry",
    "Controls",
    "DemoError",
    "DemoSession",
    "LayerStatistics",
    "LightingResult",
    "ModelCache",
    "Result",
    "compare",
    "find_checkpoints",
    "lighting_response",
    "norm_layer_statistics",
    "read_input",
    "relight",
]
