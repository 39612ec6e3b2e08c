"""The TensorBoard command and a link that opens on the validation charts.

TensorBoard orders its chart groups by name, so ``epoch`` and ``lr-*`` come before ``val/``. Its
Time Series tab has a "Pinned" section above every group, and the ``pinnedCards`` URL parameter
fills it; the link pins the validation metrics so the answer is the first thing on the page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from urllib.parse import urlencode

DEFAULT_PORT = 6006
#: more pinned charts than fit on a first screen help nobody
MAX_PINNED = 4


def pinned_url(tags: Iterable[str], port: int = DEFAULT_PORT) -> str:
    """``http://localhost:PORT/?pinnedCards=[...]#timeseries`` pinning the first :data:`MAX_PINNED` ``val/``
    scalars among ``tags`` (give the ones that matter first; repeats are dropped)."""
    chosen = [tag for tag in dict.fromkeys(tags) if tag.startswith("val/")][:MAX_PINNED]
    pins = [{"plugin": "scalars", "tag": tag} for tag in chosen]
    query = f"?{urlencode({'pinnedCards': json.dumps(pins, separators=(',', ':'))})}" if pins else ""
    return f"http://localhost:{port}/{query}#timeseries"


def view_lines(logdir: str | os.PathLike, tags: Iterable[str]) -> list[str]:
    """What to type and open to see ``logdir``'s runs, validation charts first."""
    return [f"tensorboard --logdir {logdir}", f"then open {pinned_url(tags)}  (validation charts pinned on top)"]
