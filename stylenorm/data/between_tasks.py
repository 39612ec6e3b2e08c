"""Known-answer tasks between the two extremes of :mod:`stylenorm.data.known_answer`, which no norm wins by
construction (issue 24): ``mixture`` (answer ``(1 - alpha) f(x) + alpha a(x)``) and ``lighting`` (input ``n(x)``,
uneven non-affine lighting; answer ``a(x)``). Formulas: docs/modules.md; the study: docs/ablations-protocol.md.
"""

from __future__ import annotations

import torch

from stylenorm.data.known_answer import _check_image, check_known_answer, colour_grade, exposure_answer, random_exposure

LIGHTING_GAMMA_RANGE = (0.6, 1.6)
LIGHTING_GAIN_RANGE = (0.8, 1.5)
VIGNETTE_RANGE = (0.2, 0.6)
VIGNETTE_CENTRE_RANGE = (0.3, 0.7)


def check_alpha(alpha: float, key: str = "data.mixture_alpha") -> float:
    """``alpha`` as a float if it lies in [0, 1]; otherwise an error naming ``key``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{key}={alpha!r}: expected a weight in [0, 1] (0: colour_grade's answer, 1: exposure's).")
    return float(alpha)


def mixture_answer(image: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1 - alpha) f(x) + alpha a(x)``: the answer of ``mixture`` (docs/modules.md)."""
    alpha = check_alpha(alpha, "alpha")
    return (1.0 - alpha) * colour_grade(image) + alpha * exposure_answer(image)


def lighting_parameters(image: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Random gamma (..., 3, 1, 1), gain, vignette (..., 1, 1, 1) and centre (..., 2) per image, drawn in float64."""
    _check_image(image, "lighting_parameters")
    batch = image.shape[:-3]
    draws = torch.rand((*batch, 7), generator=generator, dtype=torch.float64)

    def scaled(values: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * values

    return {
        "gamma": scaled(draws[..., 0:3], LIGHTING_GAMMA_RANGE).reshape(*batch, 3, 1, 1),
        "gain": scaled(draws[..., 3:4], LIGHTING_GAIN_RANGE).reshape(*batch, 1, 1, 1),
        "vignette": scaled(draws[..., 4:5], VIGNETTE_RANGE).reshape(*batch, 1, 1, 1),
        "centre": scaled(draws[..., 5:7], VIGNETTE_CENTRE_RANGE),
    }


def apply_lighting(image: torch.Tensor, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
    """``n(x)`` with the given parameters (:func:`lighting_parameters`); same shape and dtype."""
    _check_image(image, "apply_lighting")
    height, width = image.shape[-2:]
    p = {key: value.to(dtype=image.dtype, device=image.device) for key, value in parameters.items()}
    y = (torch.arange(height, dtype=image.dtype, device=image.device) + 0.5).reshape(height, 1)
    x = (torch.arange(width, dtype=image.dtype, device=image.device) + 0.5).reshape(1, width)
    centre_y = (p["centre"][..., 0] * height).reshape(*p["centre"].shape[:-1], 1, 1, 1)
    centre_x = (p["centre"][..., 1] * width).reshape(*p["centre"].shape[:-1], 1, 1, 1)
    radius_sq = (height**2 + width**2) / 4.0
    falloff = 1.0 - p["vignette"] * ((y - centre_y) ** 2 + (x - centre_x) ** 2) / radius_sq
    return (p["gain"] * falloff * image.clamp(0.0, 1.0) ** p["gamma"]).clamp(0.0, 1.0)


def lighting_pair(image: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n(x), a(x))``: the input under random uneven lighting and the answer of the clean photo."""
    return apply_lighting(image, lighting_parameters(image, generator)), exposure_answer(image)


def known_answer_pair(
    name: str, image: torch.Tensor, generator: torch.Generator | None = None, alpha: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input, answer)`` of the task ``name`` for the clean image(s); nuisances draw from ``generator``."""
    check_known_answer(name, key="known_answer")
    if name == "colour_grade":
        return image, colour_grade(image)
    if name == "mixture":
        return image, mixture_answer(image, alpha)
    if name == "lighting":
        return lighting_pair(image, generator)
    return random_exposure(image, generator), exposure_answer(image)
