"""Exercise: symmetric int8 quantisation by hand, per tensor and per channel, and fake quantisation.

Symmetric quantisation stores a float tensor as small integers ``q`` and one float ``scale``:
``x ≈ q * scale``. With ``num_bits`` bits the integers use the restricted range ``[-qmax, qmax]``, where
``qmax = 2 ** (num_bits - 1) - 1`` (127 for 8 bits; -128 is left unused so that the range is symmetric and
the zero point is 0). The scale maps the largest magnitude onto ``qmax``: ``scale = max|x| / qmax``.

Write it with tensor operations (``abs``, ``amax``, ``round``, ``clamp``, ``to``): do not call torch's own
quantisation functions (``torch.quantize_per_tensor``, ``torch.fake_quantize_per_tensor_affine``, quantized
tensors' ``int_repr`` and ``dequantize``...); one test per function records the torch functions it calls. The
grader compares your integers with those of ``torch.quantize_per_tensor`` /
``torch.quantize_per_channel`` (zero_point 0, dtype ``torch.qint8``) and your fake quantisation, values and
gradients, with ``torch.fake_quantize_per_tensor_affine(x, scale, 0, -qmax, qmax)``.

Shared contract:
    x: a float32 or float64 tensor with at least one element, finite entries. Not modified.
    num_bits: an int in ``[2, 8]`` (the integers are stored as int8); anything else raises ``ValueError``.
    Rounding is ``torch.round``: to the nearest integer, halves to the even one (0.5 -> 0, 1.5 -> 2,
    2.5 -> 2, -0.5 -> 0), as torch's quantisation does. ``x / scale`` is rounded, then clamped to
    ``[-qmax, qmax]``.
"""

from __future__ import annotations

import torch


def quantize_per_tensor(x: torch.Tensor, num_bits: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, scale)`` for the whole tensor.

    scale: a 0-dim tensor of x's dtype, ``x.abs().max() / qmax``; an all-zero ``x`` gets ``scale = 1.0``
    (its q is all zeros).
    q: ``clamp(round(x / scale), -qmax, qmax)`` as a ``torch.int8`` tensor of x's shape. Then
    ``|x - dequantize(q, scale)| <= scale / 2`` everywhere.
    """
    raise NotImplementedError


def dequantize(q: torch.Tensor, scale: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    """``q * scale`` as a float tensor of q's shape and scale's dtype.

    With ``axis=None``, ``scale`` is a 0-dim tensor (from ``quantize_per_tensor``). With an ``axis``,
    ``scale`` holds one scale per slice along that axis (from ``quantize_per_channel(x, axis)``), shape
    ``(q.shape[axis],)``, and slice ``c`` is multiplied by ``scale[c]``.
    """
    raise NotImplementedError


def quantize_per_channel(x: torch.Tensor, axis: int, num_bits: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, scales)`` with one scale per slice of ``x`` along ``axis`` (for a weight, one per output channel).

    axis: an int in ``[-x.dim(), x.dim())``, negative values counting from the end; outside, ``IndexError``.
    scales: shape ``(x.shape[axis],)``, x's dtype; ``scales[c] = x.select(axis, c).abs().max() / qmax``, each
    from its own slice only, and 1.0 for a slice that is all zeros.
    q: ``torch.int8``, x's shape; slice ``c`` is ``clamp(round(x.select(axis, c) / scales[c]), -qmax, qmax)``.
    """
    raise NotImplementedError


def fake_quantize(x: torch.Tensor, scale: float, num_bits: int = 8) -> torch.Tensor:
    """Quantise and dequantise in one differentiable step, as in quantisation-aware training.

    scale: a positive Python float.
    Returns a tensor of x's shape and dtype with the values ``clamp(round(x / scale), -qmax, qmax) * scale``
    (floats on the quantisation grid). Gradient (straight-through estimator): ``x.grad`` is ``grad_output``
    where ``round(x / scale)`` lies in ``[-qmax, qmax]`` (the clamp changes nothing there: rounding is
    treated as the identity) and 0 where the value was clamped, as in
    ``torch.fake_quantize_per_tensor_affine(x, scale, 0, -qmax, qmax)``. Since qmax is odd, that is
    ``|x / scale| < qmax + 0.5``: with scale 1 and 8 bits, 127.4 still gets gradient 1, 127.5 gets 0.
    """
    raise NotImplementedError
