"""A local web page comparing normalization variants on one's own image (``stylenorm-demo``); :class:`DemoSession`
does the same from Python. Usage: docs/demo.md; one job per module: docs/modules.md.
"""

from stylenorm.demo.activations import LayerStatistics, norm_layer_statistics
from stylenorm.demo.catalog import CheckpointEntry, find_checkpoints
from stylenorm.demo.compare import LightingResult, Result, relight
from stylenorm.demo.inputs import DemoError, read_input
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
    "find_checkpoints",
    "norm_layer_statistics",
    "read_input",
    "relight",
]
