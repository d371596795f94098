"""A leak-free sales-forecasting pipeline: time split, train-only scaling, sliding windows, a regression head.

The classic interview mistakes, fixed one by one: the validation window comes strictly after the training
window (no shuffling), normalisation statistics are fitted on the training window only and then applied to
both, no window has its inputs in one segment and its targets in the other, and the forecast is a raw number
trained with a regression loss (no softmax, no cross-entropy).

A series has shape (T, F): T time steps (oldest first), F features. Nothing here changes its inputs.
"""

from __future__ import annotations

import torch
from torch import nn


def time_split(n: int, n_val: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Chronological split of the time steps 0 .. n - 1.

    Returns:
        ``(train_idx, val_idx)``, int64 tensors: ``train_idx`` is 0 .. n - n_val - 1 and ``val_idx`` is
        n - n_val .. n - 1, both in increasing order. Every validation step is after every training step,
        no step is in both, and together they cover all n steps. Nothing random.

    Raises:
        ValueError: ``n_val < 1`` or ``n_val >= n`` (both parts must be non-empty).
    """
    raise NotImplementedError


class StandardScaler:
    """Per-feature standardisation whose statistics come from the data given to ``fit`` only.

    ``StandardScaler()`` starts unfitted: ``mean_`` and ``std_`` are None.
    """

    def __init__(self) -> None:
        raise NotImplementedError

    def fit(self, x: torch.Tensor) -> StandardScaler:
        """Fit on ``x`` of shape (T, F) and return ``self``.

        Sets ``mean_``, the mean over dim 0, and ``std_``, the population standard deviation over dim 0
        (divide by T, ``correction=0``, as sklearn's StandardScaler), both of shape (F,) and x's dtype. A
        feature whose std is 0 gets ``std_`` 1 for it, so that it transforms to 0 instead of nan.
        """
        raise NotImplementedError

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean_) / std_`` for any x of shape (..., F), with the statistics from ``fit``: transforming
        other data (the validation window) never changes them. Raises RuntimeError before ``fit``."""
        raise NotImplementedError

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std_ + mean_``: back to the original units. Raises RuntimeError before ``fit``."""
        raise NotImplementedError


def make_windows(series: torch.Tensor, input_len: int, horizon: int, stride: int = 1
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sliding windows over one segment of shape (T, F).

    Window i starts at step s = i * stride: its inputs are steps s .. s + input_len - 1 and its targets the
    next ``horizon`` steps, s + input_len .. s + input_len + horizon - 1. Every window that fits is made:
    N = (T - input_len - horizon) // stride + 1 of them.

    Returns:
        ``(inputs, targets)`` of shapes (N, input_len, F) and (N, horizon, F), the series' dtype.

    Raises:
        ValueError: ``input_len``, ``horizon`` or ``stride`` below 1, a series that is not 2-D, or
            T < input_len + horizon (not even one window).
    """
    raise NotImplementedError


def build_datasets(series: torch.Tensor, n_val: int, input_len: int, horizon: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, StandardScaler]:
    """The whole pipeline on a series of shape (T, F).

    1. ``time_split(T, n_val)``: the training window is the first T - n_val steps, validation the last n_val.
    2. A ``StandardScaler`` fitted on the training window only, then used to transform both windows.
    3. ``make_windows`` (stride 1) on each scaled window separately, so every window lies inside one of them:
       no training window has a target in the validation period, and nothing about the validation window
       (its values, its statistics) changes anything that is trained on.

    Returns:
        ``(train_x, train_y, val_x, val_y, scaler)``: the windows of both parts, in the scaled units, and the
        fitted scaler.

    Raises:
        ValueError: from ``time_split`` or ``make_windows`` (a part shorter than input_len + horizon).
    """
    raise NotImplementedError


class ForecastHead(nn.Module):
    """A small MLP that forecasts the next ``horizon`` steps of all ``n_features`` features.

    Build exactly these layers, in this order (the grader loads weights by these names):
    ``self.hidden = nn.Linear(input_len * n_features, hidden)`` and
    ``self.out = nn.Linear(hidden, horizon * n_features)``.

    ``forward(x)``: x of shape (B, input_len, n_features) is flattened to (B, input_len * n_features)
    (``x.flatten(1)``), then ``out(relu(hidden(x)))`` is reshaped to (B, horizon, n_features). The outputs
    are raw regression values: no activation after ``out`` (no softmax, no sigmoid): a forecast may be
    negative or far above 1.
    """

    def __init__(self, input_len: int, horizon: int, n_features: int = 1, hidden: int = 32) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def forecast_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """A regression loss between forecasts and targets of the same shape, averaged over every element.

    ``kind="mse"``: mean of (pred - target) ** 2; ``kind="l1"``: mean of |pred - target|. A 0-dim tensor
    that gradients flow through.

    Raises:
        ValueError: pred and target shapes differ, or ``kind`` is anything else (there is no
            classification loss for a sales figure).
    """
    raise NotImplementedError
