"""Known-answer tasks: image-to-image problems whose exact answer is computable, so an output is scored against it:
``colour_grade`` (answer ``f(x)``), ``exposure`` (input ``e(x)``, answer ``a(x)``) and, between them, ``mixture`` and
``lighting`` (input ``n(x)``). Formulas: docs/modules.md; the study: docs/ablations-protocol.md.
"""

from __future__ import annotations

import hashlib

import torch

#: Values of ``data.known_answer`` (besides ``null``: no known answer / plain reconstruction).
KNOWN_ANSWERS = ("colour_grade", "exposure", "mixture", "lighting")

SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))
SEPIA_MIX = 0.6
GAMMA = 0.8
CONTRAST = 1.2

GAIN_RANGE = (0.5, 1.5)
OFFSET_RANGE = (-0.2, 0.2)  # the exposure nuisance: gain about the channel mean and offset, before narrowing
STANDARD_MEAN = 0.45
STANDARD_STD = 0.2  # the exposure answer maps the standardized photo to this mean and std before grading
STD_FLOOR = 1e-6

LIGHTING_GAMMA_RANGE = (0.6, 1.6)
LIGHTING_GAIN_RANGE = (0.8, 1.5)
VIGNETTE_RANGE = (0.2, 0.6)
VIGNETTE_CENTRE_RANGE = (0.3, 0.7)


def check_known_answer(value: str | None, key: str = "data.known_answer") -> str | None:
    """``value`` if it names a known-answer task (or is None); otherwise an error naming ``key``."""
    if value is not None and value not in KNOWN_ANSWERS:
        raise ValueError(f"{key}={value!r} is not a known-answer task; expected {', '.join(KNOWN_ANSWERS)} or null.")
    return value


def check_alpha(alpha: float, key: str = "data.mixture_alpha") -> float:
    """``alpha`` as a float if it lies in [0, 1]; otherwise an error naming ``key``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{key}={alpha!r}: expected a weight in [0, 1] (0: colour_grade's answer, 1: exposure's).")
    return float(alpha)


def _check_image(image: torch.Tensor, what: str) -> None:
    if image.dim() not in (3, 4) or image.shape[-3] != 3 or not image.is_floating_point():
        raise ValueError(
            f"{what} expects a float RGB tensor (3, H, W) or (N, 3, H, W), got {image.dtype} {image.shape}."
        )


def warm_film_grade(image: torch.Tensor) -> torch.Tensor:
    """The "warm film grade" w, the first step of f, in [0, 1] (input clipped first)."""
    _check_image(image, "warm_film_grade")
    x = image.clamp(0.0, 1.0)
    r, g, b = x.unbind(-3)
    sepia = torch.stack([m_r * r + m_g * g + m_b * b for m_r, m_g, m_b in SEPIA], dim=-3).clamp(0.0, 1.0)
    graded = (1.0 - SEPIA_MIX) * x + SEPIA_MIX * sepia
    return (0.5 + CONTRAST * (graded.pow(GAMMA) - 0.5)).clamp(0.0, 1.0)


def colour_grade(image: torch.Tensor) -> torch.Tensor:
    """The "cold grade" f: :func:`warm_film_grade`, then red and blue swapped; the ``colour_grade`` answer."""
    return warm_film_grade(image).flip(-3)


#: The name the embedded CycleGAN data and older code use for f.
known_answer_transform = colour_grade


def exposure_answer(image: torch.Tensor) -> torch.Tensor:
    """``a(x) = f(clamp(0.45 + 0.2 z))``, z each channel standardized as instance norm does; the ``exposure`` answer."""
    _check_image(image, "exposure_answer")
    x = image.clamp(0.0, 1.0)
    std = x.std(dim=(-2, -1), correction=0, keepdim=True).clamp_min(STD_FLOOR)
    z = (x - x.mean(dim=(-2, -1), keepdim=True)) / std
    return colour_grade((STANDARD_MEAN + STANDARD_STD * z).clamp(0.0, 1.0))


def apply_exposure(image: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``clamp(m_c + g_c (x_c - m_c) + o_c, 0, 1)`` (no clamping needed for :func:`exposure_parameters`)."""
    _check_image(image, "apply_exposure")
    mean = image.mean(dim=(-2, -1), keepdim=True)
    return (mean + gain * (image - mean) + offset).clamp(0.0, 1.0)


def exposure_parameters(
    image: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random gain and offset per image and channel (..., 3, 1, 1), narrowed so :func:`apply_exposure` never clips;
    drawn in float64, so they do not depend on the image's dtype."""
    _check_image(image, "exposure_parameters")
    shape = (*image.shape[:-2], 1, 1)
    draws = torch.rand((2, *shape), generator=generator, dtype=torch.float64).to(image.device, image.dtype)
    mean = image.mean(dim=(-2, -1), keepdim=True)
    lowest, highest = image.amin(dim=(-2, -1), keepdim=True), image.amax(dim=(-2, -1), keepdim=True)
    max_gain = (1.0 / (highest - lowest).clamp_min(1e-12)).clamp(max=GAIN_RANGE[1])
    gain = GAIN_RANGE[0] + (max_gain - GAIN_RANGE[0]) * draws[0]
    low, high = mean + gain * (lowest - mean), mean + gain * (highest - mean)
    # feasible offsets [-low, 1 - high] (never empty: gain * span <= 1) met with the +-0.2 budget;
    # when they do not meet, the feasible end nearest to 0
    offset_min = torch.minimum((-low).clamp(min=OFFSET_RANGE[0]), 1.0 - high)
    offset_max = torch.maximum((1.0 - high).clamp(max=OFFSET_RANGE[1]), -low)
    offset = offset_min + (offset_max - offset_min) * draws[1]
    return gain, offset


def random_exposure(image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``e(x)``: :func:`apply_exposure` with parameters drawn by :func:`exposure_parameters`."""
    return apply_exposure(image, *exposure_parameters(image, generator))


def mixture_answer(image: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1 - alpha) f(x) + alpha a(x)``: the answer of ``mixture`` (docs/modules.md)."""
    alpha = check_alpha(alpha, "alpha")
    return (1.0 - alpha) * colour_grade(image) + alpha * exposure_answer(image)


def lighting_parameters(image: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Random gamma (..., 3, 1, 1), gain, vignette (..., 1, 1, 1) and centre (..., 2) per image, drawn in float64."""
    _check_image(image, "lighting_parameters")
    batch = image.shape[:-3]
    ranges = [LIGHTING_GAMMA_RANGE] * 3 + [LIGHTING_GAIN_RANGE, VIGNETTE_RANGE] + [VIGNETTE_CENTRE_RANGE] * 2
    low, high = torch.tensor(ranges, dtype=torch.float64).T
    draws = low + (high - low) * torch.rand((*batch, 7), generator=generator, dtype=torch.float64)
    return {
        "gamma": draws[..., 0:3].reshape(*batch, 3, 1, 1),
        "gain": draws[..., 3:4].reshape(*batch, 1, 1, 1),
        "vignette": draws[..., 4:5].reshape(*batch, 1, 1, 1),
        "centre": draws[..., 5:7],
    }


def apply_lighting(image: torch.Tensor, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
    """``n(x)`` with the given parameters (:func:`lighting_parameters`); same shape and dtype."""
    _check_image(image, "apply_lighting")
    height, width = image.shape[-2:]
    p = {key: value.to(dtype=image.dtype, device=image.device) for key, value in parameters.items()}
    y = (torch.arange(height, dtype=image.dtype, device=image.device) + 0.5).reshape(height, 1)
    x = (torch.arange(width, dtype=image.dtype, device=image.device) + 0.5).reshape(1, width)
    centre_y, centre_x = (p["centre"][..., None, None, None, :] * p["centre"].new_tensor([height, width])).unbind(-1)
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


def stable_seed(*parts: object) -> int:
    """A seed in [0, 2**63) from ``parts`` (their ``str``), the same on every machine and Python run."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
