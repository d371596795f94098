"""Exercise: a training epoch and an evaluation pass for a classifier.

Write the two loops every PyTorch project has. The model may contain Dropout and BatchNorm layers, so the
train/eval mode matters; the loader's last batch may be smaller than the others.

Shared conventions for both functions:

- ``loader`` is any iterable of ``(inputs, targets)`` pairs, such as a ``torch.utils.data.DataLoader``
  (it may also be a plain list of pairs). Iterate it exactly once. It yields at least one batch.
  ``inputs`` is a float tensor whose first dimension is the batch; ``targets`` holds class indices,
  an int64 tensor of shape ``(batch,)``.
- The batches arrive on the CPU. Move both ``inputs`` and ``targets`` to ``device`` (with ``.to(device)``)
  before using them; the model is already on ``device``.
- ``loss_fn`` returns the *mean* loss of a batch (like ``nn.CrossEntropyLoss()``, reduction ``"mean"``).
  The loss you report is the mean over *samples*: weight each batch's loss by its number of samples, sum,
  and divide by the number of samples seen. (The mean of the batch losses is wrong when the last batch is
  smaller.)
- Every value in the returned dict is a plain Python ``float`` (not a tensor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``; return ``{"loss": mean training loss}``.

    - Put the model in training mode first (it may be in eval mode from an earlier ``evaluate``), and
      leave it in training mode.
    - For each batch, in this order: move the batch to ``device``; zero the gradients
      (``optimizer.zero_grad()``) so no gradient from an earlier step or call is added in; forward;
      ``loss_fn(outputs, targets)``; ``backward()``; ``optimizer.step()``. Call the model exactly once per
      batch (Dropout draws random numbers, so an extra call changes the results).
    - ``"loss"``: the mean over all samples of the loss computed in each batch's forward pass (before that
      batch's optimizer step), weighted by batch size as described in the module docstring.
    """
    raise NotImplementedError


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: torch.device | str,
) -> dict[str, float]:
    """Evaluate ``model`` on ``loader``; return ``{"loss": mean loss, "accuracy": fraction correct}``.

    - Put the model in eval mode and leave it in eval mode.
    - Run with autograd disabled (``torch.no_grad()`` or ``torch.inference_mode()``): no graph is built.
    - Change nothing in the model: no parameter, no BatchNorm running statistic.
    - ``"loss"``: the mean over all samples, weighted by batch size as in ``train_one_epoch``.
    - ``"accuracy"``: the fraction (between 0.0 and 1.0) of samples whose predicted class, the index of
      the largest output (``outputs.argmax(dim=1)``), equals the target.
    """
    raise NotImplementedError
