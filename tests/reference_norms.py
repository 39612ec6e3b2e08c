"""From-scratch normalization, written from the papers' equations, as test references only.

x_hat = (x - mean) / sqrt(var + eps) with the biased variance, over the axes each paper names.
"""

import torch


def _normalize(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Ulyanov et al. 2016, eq. 2: per (n, c) over (H, W)."""
    return _normalize(x, (2, 3), eps)


def batch_norm_train(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Ioffe & Szegedy 2015, Alg. 1: per c over (N, H, W)."""
    return _normalize(x, (0, 2, 3), eps)


def group_norm(x: torch.Tensor, num_groups: int, eps: float = 1e-5) -> torch.Tensor:
    """Wu & He 2018, Fig. 3: per (n, group) over (C/G, H, W)."""
    n, c, h, w = x.shape
    return _normalize(x.reshape(n, num_groups, c // num_groups, h, w), (2, 3, 4), eps).reshape(n, c, h, w)


def layer_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Ba et al. 2016 for conv features: per n over (C, H, W)."""
    return _normalize(x, (1, 2, 3), eps)
