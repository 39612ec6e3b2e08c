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


def batch_instance_norm_train(x: torch.Tensor, rho: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Nam & Kim 2018, eq. 3 with rho in [0, 1] per channel (no affine): rho*BN + (1-rho)*IN."""
    rho = rho.clamp(0, 1).reshape(1, -1, 1, 1)
    return rho * batch_norm_train(x, eps) + (1 - rho) * instance_norm(x, eps)


def switchable_norm_train(
    x: torch.Tensor, mean_weights: torch.Tensor, var_weights: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Luo et al. 2018, eq. 3 (no affine), each statistic taken directly over its own axes.

    ``mean_weights``/``var_weights``: (w_IN, w_LN, w_BN), already summing to 1.
    """
    statistics = [(2, 3), (1, 2, 3), (0, 2, 3)]  # IN, LN, BN
    mean = sum(w * x.mean(dim=dims, keepdim=True) for w, dims in zip(mean_weights, statistics, strict=True))
    var = sum(
        w * x.var(dim=dims, unbiased=False, keepdim=True) for w, dims in zip(var_weights, statistics, strict=True)
    )
    return (x - mean) / torch.sqrt(var + eps)


def standardized_kernel(weight: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Qiao et al. 2019, eq. 5, one output channel at a time (the loop is the point: no broadcasting)."""
    rows = []
    for kernel in weight:
        flat = kernel.flatten()
        mean = flat.sum() / flat.numel()
        var = ((flat - mean) ** 2).sum() / flat.numel()
        rows.append((kernel - mean) / torch.sqrt(var + eps))
    return torch.stack(rows)
