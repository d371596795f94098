"""Data-parallel training with torch.distributed on the CPU ``gloo`` backend.

Each of ``world_size`` processes (ranks) holds a full copy of the model and trains on its own shard of
every batch; averaging the gradients across ranks makes every rank take the same step, the step that
single-process training on the whole batch would take. In production the ranks are started by ``torchrun``
or ``torch.multiprocessing.spawn``. Here the grader starts them: it forks 2 ranks, each joins a ``gloo``
process group on 127.0.0.1 (``dist.init_process_group`` is already done when your functions run, except
for ``make_loader``, which needs no process group), runs your function, and compares the results with
single-process training on the full batch, in float64. Every run is bounded in time, and every rank it
starts is gone afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


def make_loader(dataset: Dataset, batch_size: int, rank: int, world_size: int, epoch: int,
                seed: int = 0) -> DataLoader:
    """A DataLoader over this rank's shard of ``dataset`` for epoch ``epoch``.

    Use ``torch.utils.data.DistributedSampler`` with ``num_replicas=world_size``, ``rank=rank``,
    ``shuffle=True`` and ``seed=seed`` (given explicitly, so that no process group is needed), and set its
    epoch so that each epoch has its own order, the same on every rank. The ranks' shards never overlap and
    together cover the dataset; when ``len(dataset)`` is not a multiple of ``world_size``, the sampler pads
    by repeating samples so that every rank gets ``ceil(len(dataset) / world_size)`` of them (drop_last is
    False). Batches of ``batch_size`` (the last one may be smaller), in the sampler's order.
    """
    raise NotImplementedError


def average_gradients(model: nn.Module) -> None:
    """Average every parameter's ``.grad`` over all ranks, in place, with ``torch.distributed.all_reduce``.

    Called on every rank after ``loss.backward()``. Afterwards each rank's ``param.grad`` is the mean of the
    ranks' gradients (the same tensor values on every rank). Parameters whose ``.grad`` is None (frozen
    ones) are skipped; they are the same on every rank. The world size comes from the process group
    (``torch.distributed.get_world_size()``). Returns None.
    """
    raise NotImplementedError


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One data-parallel training step by hand, on this rank's shard (x, y).

    Clear the old gradients, compute ``F.mse_loss(model(x), y)`` (the mean over this rank's samples),
    backpropagate, average the gradients across ranks with your ``average_gradients``, then
    ``optimizer.step()``. Every rank has as many samples, so after the step every rank's weights equal those
    of one single-process step on the full batch (all ranks' samples together). Returns this rank's loss as a
    Python float.
    """
    raise NotImplementedError


def train_ddp(model: nn.Module, make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
              batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Train with ``torch.nn.parallel.DistributedDataParallel`` instead of averaging by hand.

    Wrap ``model`` in DistributedDataParallel (no ``device_ids`` on the CPU), build the optimizer with
    ``make_optimizer(parameters)``, and for each (x, y) of this rank's ``batches``: clear the gradients,
    ``F.mse_loss`` of the wrapped model's output, backward (DDP averages the gradients across ranks during
    backward), step. Returns ``model``'s own ``state_dict()`` after training: the keys of the unwrapped model
    (``"0.weight"``, ...), without DDP's ``"module."`` prefix.
    """
    raise NotImplementedError
