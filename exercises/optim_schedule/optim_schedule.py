"""Exercise: SGD with momentum by hand, a warm-up + cosine learning-rate schedule, and the step order.

Three tasks that interviewers use to see whether you know what an optimizer and a scheduler really do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def sgd_step(
    params: list[torch.Tensor],
    momentum_buffers: list[torch.Tensor | None],
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """Apply one step of SGD to ``params`` in place, exactly as ``torch.optim.SGD`` would.

    Write the update yourself with tensor operations: nothing from ``torch.optim`` may be used here
    (the tests make ``torch.optim``'s SGD code raise while your function runs).

    - ``params``: leaf tensors (``requires_grad=True``, any float dtype, any shape including 0-d). The
      gradient of each is ``p.grad``; a parameter whose ``p.grad`` is ``None`` is skipped entirely (the
      parameter and its buffer are left as they are).
    - ``momentum_buffers``: a list as long as ``params``, one entry per parameter, all ``None`` before the
      first step. The function keeps its state there: when ``momentum != 0`` it stores each parameter's
      momentum buffer in ``momentum_buffers[i]`` (the list is modified in place); when ``momentum == 0`` the
      entries stay ``None``.
    - Update the parameters in place (the same tensor objects), without recording anything for autograd.
      Do not modify ``p.grad``, and never let a buffer share memory with ``p.grad`` (the caller may write
      the next gradient into ``p.grad`` in place).
    - Returns ``None``.

    For each parameter ``p`` with gradient ``g = p.grad``:

    1. if ``weight_decay != 0``: ``g = g + weight_decay * p``
    2. if ``momentum != 0``:
       - on the first step for this parameter (buffer ``None``): ``buf = g`` (a copy; no dampening here)
       - otherwise: ``buf = momentum * buf + (1 - dampening) * g`` (update the stored buffer)
       - then ``g = g + momentum * buf`` if ``nesterov`` (with the updated ``buf``), else ``g = buf``
    3. ``p = p - lr * g``

    Raises ``ValueError`` if ``nesterov`` is true and ``momentum <= 0`` or ``dampening != 0`` (as
    ``torch.optim.SGD`` does), before changing anything.
    """
    raise NotImplementedError


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
) -> LambdaLR:
    """Return a ``torch.optim.lr_scheduler.LambdaLR`` for ``optimizer``: linear warm-up, then cosine decay.

    LambdaLR sets each param group's lr to ``base_lr * factor(step)``, where ``base_lr`` is the group's
    lr when the scheduler is created and ``step`` counts the ``scheduler.step()`` calls so far (0 right
    after construction, so ``step`` is also the index of the next optimizer step). With
    ``W = warmup_steps``, ``T = total_steps`` and ``m = min_lr_ratio``:

    - ``step < W``:  ``factor = (step + 1) / W``  (linear from ``1/W`` at step 0 up to ``1`` at step
      ``W - 1``; no step trains with lr 0)
    - ``step >= W``: ``progress = min((step - W) / (T - W), 1)`` and
      ``factor = m + (1 - m) * 0.5 * (1 + cos(pi * progress))``  (``1`` at step ``W``, exactly ``m`` at
      step ``T`` and for every step after it)

    ``W = 0`` means no warm-up. Raises ``ValueError`` unless ``0 <= warmup_steps < total_steps`` and
    ``0 <= min_lr_ratio <= 1``.
    """
    raise NotImplementedError


def train_steps(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> list[float]:
    """Train ``model`` with one optimizer step per ``(inputs, targets)`` batch, stepping ``scheduler`` too.

    Call ``model.train()`` first. For each batch: ``optimizer.zero_grad()``, forward, ``loss_fn(outputs,
    targets)``, ``backward()``, then ``optimizer.step()`` and then ``scheduler.step()``, in that order, so
    step ``k`` trains with the schedule's value for step ``k`` (starting from its first value) and PyTorch
    does not warn that ``lr_scheduler.step()`` was called before ``optimizer.step()``. Tensors are already
    on the right device.

    Returns the loss of each batch, computed before its optimizer step, as a list of Python floats.
    """
    raise NotImplementedError
