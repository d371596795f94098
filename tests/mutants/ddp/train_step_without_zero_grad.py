"""Reference solution: data-parallel training with torch.distributed (gloo): a sharded loader, gradients
averaged by hand with all_reduce, and the same training with DistributedDataParallel."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def make_loader(dataset: Dataset, batch_size: int, rank: int, world_size: int, epoch: int,
                seed: int = 0) -> DataLoader:
    # num_replicas and rank given explicitly: the sampler then needs no process group to exist.
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    # Without set_epoch every epoch would repeat epoch 0's order: the permutation is seeded by seed + epoch.
    sampler.set_epoch(epoch)
    # The sampler does the shuffling; DataLoader(shuffle=True) together with a sampler is an error.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)


def average_gradients(model: nn.Module) -> None:
    world_size = dist.get_world_size()
    for parameter in model.parameters():
        if parameter.grad is None:  # frozen, or unused in this step: the same on every rank
            continue
        # all_reduce sums the ranks' tensors in place; dividing turns the sum into the mean, which is the
        # gradient of the mean loss over the whole (global) batch when every rank has as many samples.
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
        parameter.grad /= world_size


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    loss = F.mse_loss(model(x), y)  # the mean over this rank's samples
    loss.backward()
    average_gradients(model)  # before the step, so every rank applies the same update
    optimizer.step()
    return loss.item()


def train_ddp(model: nn.Module, make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
              batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    ddp = DistributedDataParallel(model)  # broadcasts rank 0's weights, then averages gradients in backward
    optimizer = make_optimizer(ddp.parameters())
    for x, y in batches:
        optimizer.zero_grad()
        F.mse_loss(ddp(x), y).backward()  # the all_reduce happens inside backward, bucket by bucket
        optimizer.step()
    # The wrapped module's own state_dict: ddp.state_dict() would prefix every key with "module.".
    return ddp.module.state_dict()
