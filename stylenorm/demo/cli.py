"""The ``stylenorm-demo`` command (also ``python -m stylenorm.demo``): serve the comparison page on 127.0.0.1, no
share link unless ``--share``; exit status 2 for bad options. Every option: docs/demo.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stylenorm.demo.catalog import DEFAULT_RUN_FOLDERS
from stylenorm.demo.examples import DEFAULT_EXAMPLE_STEPS
from stylenorm.demo.inputs import DEFAULT_LARGE_PIXELS, DEFAULT_MAX_PIXELS
from stylenorm.inference import PRECISIONS
from stylenorm.inference.cli import positive_int
from stylenorm.inference.tile_statistics import TILE_STATISTICS
from stylenorm.inference.tiling import DEFAULT_TILE_STATISTICS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylenorm-demo",
        description="A local web page that runs one image through several checkpoints side by side, plots the "
        "activation statistics around their norm layers and shows which outputs move when the lighting changes.",
    )
    add = parser.add_argument
    add(
        "--runs",
        action="append",
        metavar="DIR",
        help=f"folder to search for checkpoints (.ckpt, .pth, .model) and their runs' logs, or a checkpoint file; "
        f"repeatable (default: {' and '.join(DEFAULT_RUN_FOLDERS)} of the current folder)",
    )
    add("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s: this machine only)")
    add("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    add("--share", action="store_true", help="also make a public gradio.live link (needs the internet)")
    add("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    add("--precision", choices=PRECISIONS, default="auto", help="as the stylize command's --precision")
    add("--tile", type=positive_int, default=None, help="tile size in px, as the stylize command's --tile")
    add("--tile-stats", choices=TILE_STATISTICS, default=DEFAULT_TILE_STATISTICS, help="as the stylize command's")
    add("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="largest input in px (default %(default)s, 0: any)")
    add(
        "--large-pixels",
        type=positive_int,
        default=DEFAULT_LARGE_PIXELS,
        help="inputs above this many pixels wait in a queue of their own, one at a time and one per visitor, so "
        "they never hold up smaller ones (default %(default)s)",
    )
    add(
        "--example-steps",
        type=positive_int,
        default=DEFAULT_EXAMPLE_STEPS,
        help="optimizer steps of each example run the page offers when it finds no checkpoints (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from stylenorm.demo.page import build_page, serve
        from stylenorm.demo.session import DemoSession
    except ModuleNotFoundError as error:
        parser.exit(
            2, f"stylenorm-demo: {error.name} is not installed; the page needs Gradio: pip install -e '.[demo]'\n"
        )
    options = {key: getattr(args, key) for key in ("device", "precision", "tile", "tile_stats", "large_pixels")}
    try:
        session = DemoSession(args.runs or DEFAULT_RUN_FOLDERS, max_pixels=args.max_pixels or None, **options)
    except ValueError as error:  # a bad --device
        parser.exit(2, f"stylenorm-demo: {error}\n")
    where = ", ".join(map(str, session.runs))
    print(f"stylenorm-demo: {len(session.entries)} checkpoint(s) found under {where}")
    if not session.entries:
        print(
            f"stylenorm-demo: no .ckpt/.pth/.model file under {where} (relative to {Path.cwd()}): train one "
            f"(python train.py), point --runs at your checkpoints, or let the page train small examples.",
            file=sys.stderr,
        )
    try:
        serve(build_page(session, args.example_steps), args.host, args.port, share=args.share)
    except OSError as error:  # the port is taken, or the address is not this machine's
        reason = str(error).splitlines()[0]
        parser.exit(
            2, f"stylenorm-demo: cannot serve on {args.host}:{args.port}: {reason} Choose another with --port N.\n"
        )
    return 0
