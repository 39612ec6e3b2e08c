"""Which metrics are which: the training totals worth showing, and which direction is better."""

from __future__ import annotations

#: Training losses worth a column (the style/autoencoder total, CycleGAN's generator total); their
#: components stay in TensorBoard so the tables stay readable.
TRAIN_COLUMNS = ("train/loss", "train/G")


def higher_is_better(tag: str) -> bool:
    """PSNR and SSIM are better high; losses, L1, gaps, content and style terms are better low."""
    name = tag.rsplit("/", 1)[-1].lower()
    return "psnr" in name or "ssim" in name
