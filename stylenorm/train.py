"""What ``python train.py`` does with a composed config.

For now: build the configured networks with their norm injected and print a summary of each
(parameters, norm layers, output shape for a small image). The training loop arrives with the
LightningModules in :mod:`stylenorm.tasks`.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf

from stylenorm.networks import build_networks
from stylenorm.nn.norm import is_norm_layer


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def summarize_networks(cfg: DictConfig) -> list[dict]:
    """One row per network of ``cfg.model``: name, class, parameters, norm layers, output shape."""
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    rows = []
    for role, net in build_networks(model_cfg).items():
        norm_layers = [m for m in net.modules() if is_norm_layer(m)]
        kinds = sorted({type(m).__name__ for m in norm_layers}) or ["none"]
        with torch.no_grad():
            out = net.eval()(torch.rand(1, 3, 64, 64))
        rows.append(
            {
                "role": role,
                "network": type(net).__name__,
                "parameters": count_parameters(net),
                "norm": f"{net.norm_spec.kind} (affine={net.norm_spec.affine})",
                "norm_layers": f"{len(norm_layers)} x {'/'.join(kinds)}",
                "output_for_64px": "x".join(map(str, out.shape)),
            }
        )
    return rows


def run(cfg: DictConfig) -> None:
    torch.manual_seed(cfg.seed)
    rows = summarize_networks(cfg)
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    print(f"model={cfg.model.name} norm={cfg.norm.kind}")
    print("  ".join(h.ljust(widths[h]) for h in headers))
    for row in rows:
        print("  ".join(str(row[h]).ljust(widths[h]) for h in headers))
