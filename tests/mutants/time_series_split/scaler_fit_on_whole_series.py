"""Reference solution: a leak-free forecasting pipeline (time split, train-only scaling, windows, regression head)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def time_split(n: int, n_val: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not 1 <= n_val < n:
        raise ValueError(f"n_val must be in [1, n), got n_val={n_val} with n={n}")
    n_train = n - n_val
    # Chronological: the validation window is the last n_val steps, strictly after every training step.
    return torch.arange(n_train), torch.arange(n_train, n)


class StandardScaler:
    def __init__(self) -> None:
        self.mean_: torch.Tensor | None = None
        self.std_: torch.Tensor | None = None

    def fit(self, x: torch.Tensor) -> StandardScaler:
        self.mean_ = x.mean(dim=0)
        std = x.std(dim=0, correction=0)  # population std, as sklearn's StandardScaler
        # A constant feature would divide by zero: scale it by 1 (it becomes 0 after centring).
        self.std_ = torch.where(std > 0, std, torch.ones_like(std))
        return self

    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("StandardScaler is not fitted: call fit(train) first")
        return self.mean_, self.std_

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._fitted()
        return (x - mean) / std  # the training window's statistics, whatever x is

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._fitted()
        return x * std + mean


def make_windows(series: torch.Tensor, input_len: int, horizon: int, stride: int = 1
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    if input_len < 1 or horizon < 1 or stride < 1:
        raise ValueError("input_len, horizon and stride must be at least 1")
    if series.dim() != 2:
        raise ValueError(f"series must have shape (T, F), got {tuple(series.shape)}")
    if series.size(0) < input_len + horizon:
        raise ValueError(f"a series of {series.size(0)} steps is shorter than input_len + horizon "
                         f"({input_len + horizon})")
    # unfold along time: (N, F, L + H), window i starting at step i * stride; then time back in front.
    windows = series.unfold(0, input_len + horizon, stride).transpose(1, 2)
    return windows[:, :input_len].clone(), windows[:, input_len:].clone()


def build_datasets(series: torch.Tensor, n_val: int, input_len: int, horizon: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, StandardScaler]:
    train_idx, val_idx = time_split(series.size(0), n_val)
    train, val = series[train_idx], series[val_idx]
    scaler = StandardScaler().fit(series)  # statistics of the training window only
    # Each segment is windowed on its own, so no window has inputs in one and targets in the other.
    train_x, train_y = make_windows(scaler.transform(train), input_len, horizon)
    val_x, val_y = make_windows(scaler.transform(val), input_len, horizon)
    return train_x, train_y, val_x, val_y, scaler


class ForecastHead(nn.Module):
    def __init__(self, input_len: int, horizon: int, n_features: int = 1, hidden: int = 32) -> None:
        super().__init__()
        self.horizon, self.n_features = horizon, n_features
        self.hidden = nn.Linear(input_len * n_features, hidden)
        self.out = nn.Linear(hidden, horizon * n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.hidden(x.flatten(1)))
        # Raw, unbounded outputs: a forecast is a number on the (scaled) series' scale, not a distribution.
        return self.out(h).view(x.size(0), self.horizon, self.n_features)


def forecast_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "l1":
        return F.l1_loss(pred, target)
    raise ValueError(f"kind must be 'mse' or 'l1', got {kind!r}")
