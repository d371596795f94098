"""Exercise: 2-D convolution by hand, as im2col (``F.unfold``) and a matrix multiply.

A convolution is a matrix multiply in disguise. ``F.unfold(x, kernel_size, dilation, padding, stride)`` cuts
every window the kernel visits out of ``x`` and lays it out as a column: the result has shape
``(N, C_in * kh * kw, L)``, one column per output position (``L = H_out * W_out``, row by row), and each
column's entries ordered (channel, kernel row, kernel column), channel slowest. Multiply those columns by
the kernels flattened in the same order and you have the convolution.

Do not call ``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d``, ``torch.convolution`` or any other convolution
op (``torch.ops.aten.convolution`` included): the grader records the torch functions and aten ops your ``conv2d``
and its backward pass run (with a ``TorchFunctionMode`` and a ``TorchDispatchMode``) and reports any
convolution among them; let autograd derive the gradients. It compares your results and
gradients with ``F.conv2d``'s.

``kernel_size``, ``stride``, ``padding`` and ``dilation`` are each an int (the same for height and width) or
a tuple of two ints ``(for height, for width)``, as in ``F.conv2d``; padding adds zeros on both sides.
"""

from __future__ import annotations

import torch


def conv2d_output_size(h: int, w: int, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                       padding: int | tuple[int, int] = 0,
                       dilation: int | tuple[int, int] = 1) -> tuple[int, int]:
    """The spatial size ``(H_out, W_out)`` of a convolution's output, as a tuple of two Python ints.

    For each of height and width (the formula of ``nn.Conv2d``'s documentation):
    ``out = floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.
    For example ``conv2d_output_size(7, 7, 3, stride=2, padding=1)`` is ``(4, 4)``. The arguments are such
    that the result is at least 1 in each direction.
    """
    raise NotImplementedError


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` with ``F.unfold`` and a matmul.

    x: ``(N, C_in, H, W)``, float32 or float64 (N >= 1; H and W need not be equal). Not modified.
    weight: ``(C_out, C_in / groups, kh, kw)``, x's dtype (kh and kw need not be equal).
    bias: ``(C_out,)`` or None; ``bias[o]`` is added to every position of output channel ``o``.
    groups: the input channels are split into ``groups`` consecutive blocks of ``C_in / groups`` channels,
        and the output channels into ``groups`` blocks of ``C_out / groups``; output block ``g`` sees only
        input block ``g``. ``groups == C_in`` is a depthwise convolution.

    Returns ``(N, C_out, H_out, W_out)`` in x's dtype, with ``(H_out, W_out) = conv2d_output_size(H, W,
    (kh, kw), stride, padding, dilation)`` and
    ``out[n, o, i, j] = bias[o] + sum over c, a, b of weight[o, c, a, b] * x_padded[n, g * C_in / groups + c,
    i * stride_h + a * dilation_h, j * stride_w + b * dilation_w]`` (``g`` the group of ``o``): exactly what
    ``F.conv2d`` computes (a cross-correlation: the kernel is not flipped). Gradients flow to ``x``,
    ``weight`` and ``bias`` (built from differentiable operations) and equal ``F.conv2d``'s.

    Raises ``ValueError`` when ``C_in`` is not divisible by ``groups``, when ``C_out`` is not divisible by
    ``groups``, or when ``weight.shape[1] != C_in / groups``.
    """
    raise NotImplementedError
