"""Mutant: the product is computed as (L, C_out) and reshaped without transposing it back."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def conv2d_output_size(h: int, w: int, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                       padding: int | tuple[int, int] = 0,
                       dilation: int | tuple[int, int] = 1) -> tuple[int, int]:
    # A dilated kernel spans dilation * (k - 1) + 1 pixels; the last window must fit inside the padded input,
    # and floor division counts the strides that fit.
    sizes = []
    for size, k, s, p, d in zip((h, w), _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation),
                                strict=True):
        sizes.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    return sizes[0], sizes[1]


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> torch.Tensor:
    n, in_channels, h, w = x.shape
    out_channels, group_in, kh, kw = weight.shape
    if in_channels % groups:
        raise ValueError(f"in_channels ({in_channels}) must be divisible by groups ({groups})")
    if out_channels % groups:
        raise ValueError(f"out_channels ({out_channels}) must be divisible by groups ({groups})")
    if group_in != in_channels // groups:
        raise ValueError(f"weight.shape[1] is {group_in}, but in_channels / groups is {in_channels // groups}")
    out_h, out_w = conv2d_output_size(h, w, (kh, kw), stride, padding, dilation)
    # im2col: (N, C_in * kh * kw, L), one column per output position (L = out_h * out_w, row-major), its rows
    # ordered (channel, kernel row, kernel column) with the channel slowest: weight.reshape's order.
    columns = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    columns = columns.reshape(n, groups, group_in * kh * kw, -1)  # each group sees its own input channels
    kernels = weight.reshape(groups, out_channels // groups, group_in * kh * kw)
    out = columns.transpose(-1, -2) @ kernels.transpose(-1, -2)  # (N, G, L, C_out/G)
    out = out.reshape(n, out_channels, out_h, out_w)  # groups of output channels are consecutive
    if bias is not None:
        out = out + bias.reshape(1, out_channels, 1, 1)
    return out
