"""History of generated images for the discriminators (Shrivastava et al. 2017; Zhu et al. 2017, section 4)."""

from __future__ import annotations

import torch


class ImagePool:
    """A pool of up to ``size`` past generated images; ``size=0`` disables it."""

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        images = torch.cat(self.images) if self.images else torch.empty(0)
        return {"size": self.size, "images": images.cpu()}

    def load_state_dict(self, state: dict) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(
                f"The checkpoint's image pool holds up to {state['size']} images, this run's "
                f"model.pool_size is {self.size}; resume with model.pool_size={state['size']}."
            )
        self.images = [image.unsqueeze(0) for image in state["images"]]

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """A batch of the same size, detached: until the pool is full, ``images``; then each is, with probability 1/2,
        swapped for a random stored one (torch's global generator draws)."""
        if self.size == 0:
            return images.detach()
        returned = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                returned.append(image)
            elif float(torch.rand(())) > 0.5:
                index = int(torch.randint(self.size, ()))
                returned.append(self.images[index].to(image.device, image.dtype))  # restored pools load on CPU
                self.images[index] = image.clone()
            else:
                returned.append(image)
        return torch.cat(returned, 0)
