"""Which metrics are which: the training totals worth showing, and which direction is better."""

from __future__ import annotations

#: Training losses worth a column (the style/autoencoder total, CycleGAN's generator total); the
#: individual components stay in TensorBoard so the tables stay readable.
TRAIN_COLUMNS = ("train/loss", "train/G")

#: Name parts of metrics that grow as results improve; every other metric is an error, loss or gap (>= 0).
_HIGHER_IS_BETTER = ("psnr", "ssim")


def higher_is_better(tag: str) -> bool:
    """PSNR and SSIM tags are better high; losses, L1, gaps, content and style terms are better low."""
    name = tag.rsplit("/", 1)[-1].lower()
    return any(part in name for part in _HIGHER_IS_BETTER)
