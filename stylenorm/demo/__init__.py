"""A local web page to compare normalization variants on one's own image (``stylenorm-demo``).

The page (:mod:`stylenorm.demo.page`, Gradio) shows the same image through several checkpoints side by side,
why they differ (activation statistics around every norm layer) and which of them change their output when the
input's lighting changes. :class:`DemoSession` does the same from Python without a server, and the running
page's HTTP endpoints serve ``gradio_client``. All loading and stylizing goes through
:mod:`stylenorm.inference`; Gradio is imported only by the page. Usage and examples: docs/demo.md; one job
per module: docs/modules.md.
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
