"""Known-answer tasks: image-to-image problems whose exact answer is computable, so that a network's
output can be scored against the truth (PSNR/SSIM) and not only by how plausible it looks.

Two tasks at the extremes, chosen with ``data.known_answer`` for the autoencoder (``data=embedded_autoencoder`` or
``image_folder``) and for CycleGAN (``data=embedded_cyclegan``, which then picks the matching
embedded dataset of :mod:`stylenorm.data.embedded`). They are built to be able to separate the
normalization layers in opposite directions, as the evidence standard of the design notes asks:

``colour_grade`` - input ``x`` (a photo), answer ``f(x)``, the "cold grade" below: a warm film
    grade, then red and blue swapped. The answer depends on each pixel's *absolute* colour and on
    each image's overall brightness and colour balance, which instance norm discards in every layer
    (it makes each feature map mean 0, std 1 per image). A network with instance norm has to
    re-create those statistics from what survives (padding effects, the non-linearities); batch
    norm and no norm keep them, and group and layer norm discard less (one mean and std per group
    of channels, so the balance between channels within a group survives). So instance norm is at
    a disadvantage by construction here: this task cannot test a claim that instance norm *helps*.

``exposure`` - input ``e(x)``, a random per-image, per-channel change of exposure, contrast and
    colour cast of the photo; answer ``a(x) = f(clamp(0.45 + 0.2 z))``, where ``z`` is the photo
    standardized per channel (mean 0, std 1 over the image). ``a`` is the same for every such
    change: ``a(e(x)) = a(x)`` exactly (no clipping, see below). So the per-image statistics of
    the input are pure nuisance, and the answer is a fixed function of exactly what instance
    normalization of the input keeps. This is the setting of the source notebooks' claim "instance
    norm helps image-to-image tasks because it removes per-image contrast and brightness": if the
    claim holds, instance norm should win here; if it does not, nothing in the task prevents the
    other norms from winning. (Inside a network, instance norm after the first convolution removes
    the per-channel offsets - a constant per feature map, apart from zero padding at the borders -
    and a gain common to all channels exactly, and per-channel gains for filters that each see one
    input channel, which a network can learn.) Unlike f, ``a`` is many-to-one: the nuisance cannot
    be recovered from the answer, so CycleGAN's A -> B -> A cycle cannot be exact here and its
    cycle loss rewards hiding the exposure in G_AB's output; read ``val/cycle_l1`` with that in mind.

The nuisance ``e`` (per image and per channel ``c``, with ``m_c``, ``lo_c``, ``hi_c`` the mean,
minimum and maximum of ``x_c`` over the image)::

    e(x)_c = m_c + g_c (x_c - m_c) + o_c
    g_c ~ U[0.5, min(1.5, 1 / (hi_c - lo_c))]        contrast x0.5 .. x1.5
    o_c ~ U[max(-0.2, -low_c), min(0.2, 1 - high_c)]  brightness -0.2 .. +0.2
          low_c = m_c + g_c (lo_c - m_c), high_c = m_c + g_c (hi_c - m_c)

i.e. gain and offset ranges of +-50 % and +-0.2, each narrowed per image to what keeps the channel
inside [0, 1], so that ``e`` never clips and the answer stays exactly computable from the input.
(The unrestricted ranges push 14 % of the pixel values of the embedded photo tiles out of [0, 1],
over 40 % of those in the star fields of the Hubble photo, where any darkening blacks out the faint
galaxies.) Should the narrowed offset interval be empty - a gain above 1 pushing the channel past
the +-0.2 budget - the offset is the smallest one that fits. The nuisance of the embedded tiles:
gains 0.53-1.37 and offsets -0.15..+0.18 (5th-95th percentiles), never an offset beyond +-0.2.

The answer ``a``::

    z_c  = (x_c - m_c) / max(s_c, 1e-6)     s_c: the channel's standard deviation (population, as IN)
    a(x) = f(clamp(0.45 + 0.2 z, 0, 1))     standardized to mean 0.45, std 0.2 (2.5 % of values clip)

``a`` keeps only each channel's pattern, not its level or contrast, and then grades it with ``f``,
so the answer is neither the input nor the photo (input vs answer: about 10 dB PSNR on the tiles).
The ``1e-6`` only keeps flat channels finite (they become ``f(0.45)``); it is far below the
smallest channel std of the tiles (0.012), so invariance is exact in practice.

The "cold grade" ``f`` (:func:`colour_grade`, also :func:`known_answer_transform`), per pixel on
``x = (r, g, b)`` in [0, 1]: the "warm film grade" ``w`` (:func:`warm_film_grade`), then red and
blue swapped (:func:`reverse_channels`) - a cold, cyanotype-like look::

    s    = clip(S x, 0, 1)     S = [[0.393, 0.769, 0.189],    (the classic sepia matrix)
                                    [0.349, 0.686, 0.168],
                                    [0.272, 0.534, 0.131]]
    y    = 0.4 x + 0.6 s       (sepia blended with the original colour)
    w(x) = clip(0.5 + 1.2 (y ** 0.8 - 0.5), 0, 1)   (gamma 0.8 lifts shadows, contrast 1.2 about mid-grey)
    f(x) = P w(x)              P = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]: (r, g, b) -> (b, g, r)

``0.4 I + 0.6 S`` is invertible and ``P`` is a permutation, so away from clipped highlights f is a
bijection and the B -> A direction is learnable too.

Why the swap: ``w`` alone is a mild grade. Doing nothing - the photo scored against ``w(photo)`` -
got 17.8 dB PSNR on the 16 test tiles of the embedded CycleGAN data of format version 1 (17.4 dB
on the 8 a run validates on, ``val/psnr_identity_baseline``), more than a CPU-sized CycleGAN
reaches (13 dB after 400 iterations, its error dominated by reproducing the image content): on a
CPU budget the model could not beat copying its input, so a run could not show that it had learned
the grade. With the swap, doing nothing scores 10.2 dB on the 82 test tiles of format version 4
(10.4 dB on the 8 validated by default; the ``exposure`` answer, graded by the same ``f``: 10.5 dB
and 10.9 dB): identity is a weak baseline, and beating it takes learning the grade. The claim
tested is unchanged: ``f`` is still one fixed per-pixel colour map that depends on each pixel's
absolute colour and each image's brightness and colour balance (the
reason above why it handicaps instance norm).

Two more tasks lie between these extremes, so that neither side wins by construction: ``mixture``
(answer ``(1 - alpha) f(x) + alpha a(x)``, ``data.mixture_alpha``) and ``lighting`` (a non-affine,
spatially varying nuisance no norm removes exactly), in :mod:`stylenorm.data.between_tasks`; the
autoencoder poses them while loading (the embedded CycleGAN data hold only the two extremes).

All functions take float tensors ``(3, H, W)`` or ``(N, 3, H, W)`` in [0, 1], use plain elementwise
ops and reductions (bit-for-bit reproducible on CPU), and draw random numbers only from the
``generator`` they are given (``None``: torch's global generator, which Lightning's
``seed_everything`` seeds per run and the DataLoader per worker).
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

#: The exposure nuisance: gain about the channel mean and offset, before narrowing (module docstring).
GAIN_RANGE = (0.5, 1.5)
OFFSET_RANGE = (-0.2, 0.2)
#: The exposure answer: the standardized photo is mapped to this mean and std before grading.
STANDARD_MEAN = 0.45
STANDARD_STD = 0.2
STD_FLOOR = 1e-6


def check_known_answer(value: str | None, key: str = "data.known_answer") -> str | None:
    """``value`` if it names a known-answer task (or is None); otherwise an error naming ``key``."""
    if value is not None and value not in KNOWN_ANSWERS:
        raise ValueError(
            f"{key}={value!r} is not a known-answer task; expected one of {', '.join(KNOWN_ANSWERS)} "
            f"or null (no known answer). See stylenorm/data/known_answer.py."
        )
    return value


def _check_image(image: torch.Tensor, what: str) -> None:
    if image.dim() not in (3, 4) or image.shape[-3] != 3 or not image.is_floating_point():
        raise ValueError(
            f"{what} expects a float RGB tensor (3, H, W) or (N, 3, H, W) in [0, 1]; "
            f"got {image.dtype} of shape {tuple(image.shape)}."
        )


def warm_film_grade(image: torch.Tensor) -> torch.Tensor:
    """The "warm film grade" w (formula in the module docstring): the first step of f.

    On its own it is too mild to be the known answer (doing nothing scores 17.8 dB PSNR against it
    on the embedded CycleGAN test tiles); f follows it with a swap of the red and blue channels
    (:func:`colour_grade`).
    ``image``: float tensor (3, H, W) or (N, 3, H, W) in [0, 1] (values outside are clipped first).
    Returns a tensor of the same shape and dtype in [0, 1].
    """
    _check_image(image, "warm_film_grade")
    x = image.clamp(0.0, 1.0)
    r, g, b = x.unbind(-3)
    sepia = torch.stack([m_r * r + m_g * g + m_b * b for m_r, m_g, m_b in SEPIA], dim=-3).clamp(0.0, 1.0)
    graded = (1.0 - SEPIA_MIX) * x + SEPIA_MIX * sepia
    return (0.5 + CONTRAST * (graded.pow(GAMMA) - 0.5)).clamp(0.0, 1.0)


def reverse_channels(image: torch.Tensor) -> torch.Tensor:
    """(r, g, b) -> (b, g, r): red and blue swapped, green kept."""
    _check_image(image, "reverse_channels")
    return image.flip(-3)


def colour_grade(image: torch.Tensor) -> torch.Tensor:
    """The "cold grade" f = reverse_channels(warm_film_grade(x)) (module docstring): the ``colour_grade`` answer.

    ``image``: float tensor (3, H, W) or (N, 3, H, W) in [0, 1] (values outside are clipped first).
    Returns a tensor of the same shape and dtype in [0, 1].
    """
    _check_image(image, "colour_grade")
    return reverse_channels(warm_film_grade(image))


#: The name the embedded CycleGAN data and older code use for f.
known_answer_transform = colour_grade


def _channel_mean(image: torch.Tensor) -> torch.Tensor:
    return image.mean(dim=(-2, -1), keepdim=True)


def standardize_channels(image: torch.Tensor) -> torch.Tensor:
    """Each channel of each image to mean 0, std 1 over (H, W) - what instance norm does to the input."""
    _check_image(image, "standardize_channels")
    std = image.std(dim=(-2, -1), correction=0, keepdim=True).clamp_min(STD_FLOOR)
    return (image - _channel_mean(image)) / std


def exposure_answer(image: torch.Tensor) -> torch.Tensor:
    """``a(x) = f(clamp(0.45 + 0.2 z))``, z the per-channel standardized image; the ``exposure`` answer."""
    _check_image(image, "exposure_answer")
    standard = STANDARD_MEAN + STANDARD_STD * standardize_channels(image.clamp(0.0, 1.0))
    return colour_grade(standard.clamp(0.0, 1.0))


def apply_exposure(image: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``clamp(m_c + g_c (x_c - m_c) + o_c, 0, 1)`` with any gains/offsets broadcastable to (..., 3, 1, 1).

    The clamp is a no-op for the parameters of :func:`exposure_parameters` (up to rounding).
    """
    _check_image(image, "apply_exposure")
    mean = _channel_mean(image)
    return (mean + gain * (image - mean) + offset).clamp(0.0, 1.0)


def exposure_parameters(
    image: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random gain and offset per image and channel, shaped (..., 3, 1, 1): the nuisance of ``exposure``.

    Two uniform numbers per channel are drawn (in float64, so the draw does not depend on the
    image's dtype) from ``generator`` and mapped to the ranges of the module docstring, narrowed so
    that :func:`apply_exposure` does not clip.
    """
    _check_image(image, "exposure_parameters")
    shape = (*image.shape[:-2], 1, 1)
    draws = torch.rand((2, *shape), generator=generator, dtype=torch.float64)
    draws = draws.to(device=image.device, dtype=image.dtype)
    mean = _channel_mean(image)
    lowest = image.amin(dim=(-2, -1), keepdim=True)
    highest = image.amax(dim=(-2, -1), keepdim=True)
    max_gain = (1.0 / (highest - lowest).clamp_min(1e-12)).clamp(max=GAIN_RANGE[1])
    gain = GAIN_RANGE[0] + (max_gain - GAIN_RANGE[0]) * draws[0]
    low = mean + gain * (lowest - mean)
    high = mean + gain * (highest - mean)
    # feasible offsets [-low, 1 - high] (never empty: gain * span <= 1) met with the +-0.2 budget;
    # when they do not meet, the feasible end nearest to 0
    offset_min = torch.minimum((-low).clamp(min=OFFSET_RANGE[0]), 1.0 - high)
    offset_max = torch.maximum((1.0 - high).clamp(max=OFFSET_RANGE[1]), -low)
    offset = offset_min + (offset_max - offset_min) * draws[1]
    return gain, offset


def random_exposure(image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``e(x)``: :func:`apply_exposure` with parameters drawn by :func:`exposure_parameters`."""
    return apply_exposure(image, *exposure_parameters(image, generator))


def stable_seed(*parts: object) -> int:
    """A seed in [0, 2**63) from ``parts`` (their ``str``), the same on every machine and Python run."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
