"""History of generated images for the discriminators (Shrivastava et al. 2017, used by CycleGAN).

Updating D on a buffer of past fakes, not only the newest ones, damps model oscillation
(Zhu et al. 2017, section 4). With probability 1/2 a new fake replaces a random stored one and the
stored one is returned instead; until the pool is full, fakes go in and come straight back.
"""

from __future__ import annotations

import random

import torch


class ImagePool:
    """A pool of up to ``size`` past generated images; ``size=0`` disables it."""

    def __init__(self, size: int = 50, seed: int | None = None):
        self.size = size
        self.images: list[torch.Tensor] = []
        self._random = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same size mixing ``images`` and stored ones (all detached)."""
        if self.size == 0:
            return images.detach()
        returned = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                returned.append(image)
            elif self._random.random() > 0.5:
                index = self._random.randrange(self.size)
                returned.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                returned.append(image)
        return torch.cat(returned, 0)
