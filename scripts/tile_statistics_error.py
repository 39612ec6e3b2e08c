"""How far tiled stylization is from untiled, per ``--tile-stats`` mode: a table of gray levels and seconds.

    python scripts/tile_statistics_error.py                       # random networks at the papers' widths
    python scripts/tile_statistics_error.py --checkpoint last.ckpt --image photo.jpg --tile 512

Random networks get per-layer affine parameters away from (1, 0) and an output spread over the gray
levels, so that a difference cannot hide in a flat image. Prints max and mean absolute difference
(gray levels, 0-255) to the untiled output and the wall time of each mode (fp32).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.data.images import open_image
from stylenorm.inference import load_stylizer
from stylenorm.inference.pipeline import stylize_batch
from stylenorm.inference.stylizer import SIGNED, ZERO_TO_255, Stylizer
from stylenorm.inference.tile_statistics import TILE_STATISTICS, per_sample_norm_layers
from stylenorm.networks import build_networks


def random_network(model: str, norm: str, probe: torch.Tensor) -> Stylizer:
    torch.manual_seed(0)
    if model == "style":
        network, convention, spread = (
            build_networks({"name": "style", "norm": {"kind": norm}})["transformer"],
            ZERO_TO_255,
            50.0,
        )
    else:
        sizes = {"generator": {"ngf": 32, "n_blocks": 6}}
        network, convention, spread = (
            build_networks({"name": "cyclegan", "norm": {"kind": norm, "affine": True}, **sizes})["G_AB"],
            SIGNED,
            0.4,
        )
    network.eval()
    with torch.no_grad():
        for layer in per_sample_norm_layers(network):
            if layer.weight is not None:
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)
        last = [m for m in network.modules() if isinstance(m, nn.Conv2d)][-1]
        last.weight *= spread / network(convention.to_network(probe)).std().clamp_min(1e-6)
        if model == "style":
            last.bias += 127.0
    return Stylizer(network, convention, f"random {model} ({norm})")


def test_image(height: int, width: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, height // 32, width // 32, generator=generator)
    image = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    image = image + 0.05 * torch.randn(1, 3, height, width, generator=generator)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a checkpoint to measure (default: random networks)")
    parser.add_argument("--image", help="an image file (default: a generated 768 x 1024 photo-like image)")
    parser.add_argument("--tile", type=int, default=384)
    parser.add_argument("--overlap", type=int, default=None, help="default: an eighth of the tile")
    args = parser.parse_args()
    if args.image:
        with open_image(args.image) as opened:
            image = torch.from_numpy(np.array(opened.convert("RGB"))).permute(2, 0, 1)[None]
    else:
        image = test_image(768, 1024)
    probe = image[..., :128, :128].float()
    if args.checkpoint:
        stylizers = [load_stylizer(args.checkpoint, device="cpu")]
    else:
        stylizers = [random_network(m, n, probe) for m, n in [("style", "instance"), ("style", "group"),
                                                             ("style", "layer"), ("cyclegan", "instance")]]  # fmt: skip
    overlap = args.overlap if args.overlap is not None else max(4, args.tile // 8 // 4 * 4)
    print(f"image {image.shape[-2]}x{image.shape[-1]}, tile {args.tile}, overlap {overlap}, fp32, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print("| network | mode | max diff | mean diff | seconds |\n|---|---|---|---|---|")
    for stylizer in stylizers:
        started = time.perf_counter()
        untiled = stylize_batch(image, stylizer, auto_tile_pixels=0).int()
        print(f"| {stylizer.description} | untiled | - | - | {time.perf_counter() - started:.1f} |")
        for mode in TILE_STATISTICS:
            started = time.perf_counter()
            tiled = stylize_batch(image, stylizer, tile=args.tile, overlap=overlap, tile_stats=mode).int()
            seconds = time.perf_counter() - started
            difference = (tiled - untiled).abs().float()
            numbers = f"{difference.max():.0f} | {difference.mean():.2f} | {seconds:.1f}"
            print(f"| {stylizer.description} | {mode} | {numbers} |")


if __name__ == "__main__":
    main()
