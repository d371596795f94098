"""LayerNorm and BatchNorm1d by hand, as nn.Modules that match torch's own.

Both normalise ``x`` to ``(x - mean) / sqrt(var + eps)`` and then apply a learnt affine map
``weight * x_hat + bias``; they differ in what the statistics are taken over. Write them with tensor
operations (``mean``, ``var``, ``sqrt``...), not with ``nn.LayerNorm``, ``nn.BatchNorm1d`` or
``torch.nn.functional.layer_norm`` / ``batch_norm``. The grader compares outputs, gradients (of the input,
the weight and the bias), buffers and ``state_dict``s with nn.LayerNorm and nn.BatchNorm1d, in float32 and
float64 (the modules are built in float32 and converted with ``.to(torch.float64)``, so register
parameters and buffers properly).
"""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimensions of the input, as ``nn.LayerNorm``.

    Args:
        normalized_shape: an int or a tuple of ints: the trailing shape of the inputs, normalised together
            (an int n means ``(n,)``); kept as the attribute ``normalized_shape``, a tuple.
        eps: added to the variance inside the square root: ``sqrt(var + eps)``.
        elementwise_affine: with True, parameters ``weight`` (ones) and ``bias`` (zeros) of shape
            ``normalized_shape``; with False, no parameters at all (``weight`` and ``bias`` are None and the
            state_dict is empty).

    forward(x): ``x`` of shape ``(*, *normalized_shape)``. For each position of the leading dims, the mean
    and the *biased* variance (divide by the number of elements, not by that number minus 1) are taken over
    the last ``len(normalized_shape)`` dims; returns ``(x - mean) / sqrt(var + eps) * weight + bias``,
    x's shape and dtype. The same in train and eval mode (no running statistics). ``x`` is not modified.
    An input whose trailing shape is not ``normalized_shape`` raises ValueError or RuntimeError.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class BatchNorm1d(nn.Module):
    """Batch normalisation of (N, C) or (N, C, L) inputs, as ``nn.BatchNorm1d``.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance inside the square root.
        momentum: the weight of the new batch in the running estimates:
            ``running = (1 - momentum) * running + momentum * batch_statistic``. ``None`` means a cumulative
            average instead: the factor is ``1 / num_batches_tracked`` (after counting this batch).
        affine: with True, parameters ``weight`` (ones) and ``bias`` (zeros) of shape (C,); with False, none
            (``weight`` and ``bias`` are None).

    Buffers (``register_buffer``, so they are in the state_dict and follow ``.to()``): ``running_mean``
    (zeros, shape (C,)), ``running_var`` (ones, shape (C,)), ``num_batches_tracked`` (a 0-dim int64 tensor,
    0). The state_dict has exactly nn.BatchNorm1d's keys, so either module's state_dict loads into the
    other.

    forward(x) for x of shape (N, C) or (N, C, L); the statistics of channel c are taken over every entry of
    that channel (dim 0, and dim 2 for 3-d inputs: n = N * L values).

    - Training mode (``self.training``): normalise with the batch mean and the *biased* batch variance
      (divided by n); then, without autograd tracking it (the buffers never require grad or hold a graph),
      add 1 to ``num_batches_tracked`` and update ``running_mean`` with the batch mean and ``running_var``
      with the *unbiased* batch variance (divided by n - 1). Gradients flow through the batch statistics.
      Raises ValueError when n == 1 (one value per channel has no variance).
    - Eval mode: normalise with ``running_mean`` and ``running_var``; no buffer changes.

    Returns ``(x - mean) / sqrt(var + eps) * weight + bias`` (per channel, broadcast over N and L), x's
    shape and dtype. ``x`` is not modified. Raises ValueError for an input that is not 2-d or 3-d, and
    ValueError or RuntimeError when its dim 1 is not ``num_features``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
