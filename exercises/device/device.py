"""Devices: choosing one, moving nested batches and optimizer state to it, and running inference on it.

Implement the four tasks below. Write them for any device: the grader runs on a machine without a GPU, so
it checks availability by patching ``torch.cuda.is_available`` and ``torch.backends.mps.is_available``, and
checks moves with the ``meta`` device (tensors with a shape and dtype but no data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the ``torch.device`` to run on.

    Args:
        prefer: ``None`` for "the best available", or a device: a string such as "cpu", "cuda", "cuda:1",
            "mps", "meta", or a ``torch.device``.

    Returns:
        - ``prefer`` is None: CUDA (``torch.device("cuda")``) if ``torch.cuda.is_available()``, else MPS if
          ``torch.backends.mps.is_available()``, else the CPU. Ask exactly these two functions.
        - otherwise: ``torch.device(prefer)``, even when a better device exists.

    Raises:
        ValueError: ``prefer`` names a CUDA device while ``torch.cuda.is_available()`` is False, or an MPS
            device while ``torch.backends.mps.is_available()`` is False; or ``prefer`` is not a device at all
            ("gpu", "cuda:x", "": where ``torch.device`` raises RuntimeError, raise ValueError instead).
            Checking that a CUDA index exists ("cuda:3" on a one-GPU machine) is allowed but not required.
    """
    raise NotImplementedError


def to_device(obj: Any, device: str | torch.device, non_blocking: bool = False) -> Any:
    """Return a copy of ``obj`` with every tensor inside it moved to ``device``.

    Args:
        obj: a tensor, or any nesting of dicts, lists, tuples and namedtuples holding tensors and other
            values (numbers, strings, None, ...).
        device: the target device (string or ``torch.device``).
        non_blocking: passed on to every ``Tensor.to`` call (``tensor.to(device, non_blocking=...)``), so
            copies from pinned CPU memory to a GPU can overlap with computation.

    Returns:
        the same structure with the same container types: a dict subclass keeps its type (an
        ``OrderedDict`` stays an ``OrderedDict`` in the same key order; a ``defaultdict`` stays a
        ``defaultdict`` with the same ``default_factory``); a namedtuple keeps its namedtuple type; lists
        stay lists and tuples tuples.
        Anything that is neither a tensor nor one of those containers (including strings) is returned as
        is (the same object). A tensor already on ``device`` is returned as is (``Tensor.to`` does that).

    The input is not modified: no container of ``obj`` is changed, every container in the result is new.
    """
    raise NotImplementedError


def optimizer_to(optimizer: torch.optim.Optimizer, device: str | torch.device) -> None:
    """Move every tensor of ``optimizer``'s state (e.g. Adam's ``exp_avg``, SGD's ``momentum_buffer``) to
    ``device``, in place: afterwards ``optimizer.state[p][key]`` is on ``device``.

    The ``"step"`` counters stay where they are (on the CPU): that is what ``Optimizer.load_state_dict``
    does for non-capturable optimizers, and keeping them on the CPU avoids a GPU sync on every step.
    Values that are not tensors are left as they are, and so are the parameters themselves and the
    ``param_groups``. Returns None.
    """
    raise NotImplementedError


def batched_inference(
    model: nn.Module, batches: Iterable[torch.Tensor], device: str | torch.device
) -> torch.Tensor:
    """Run ``model`` on every batch on ``device`` and return all the outputs, on the CPU.

    Args:
        model: an ``nn.Module`` taking one tensor and returning one tensor with the batch in dim 0. It may
            be on any device and in train mode.
        batches: an iterable of input tensors (at least one), e.g. on the CPU.
        device: the device to run on.

    Steps: move the model to ``device``; switch it (and so all its submodules) to eval mode; then, with
    autograd off (``torch.no_grad()`` or ``torch.inference_mode()``), move each batch to ``device`` with
    ``non_blocking=True`` and run the model on it.

    Returns:
        the outputs of all batches concatenated along dim 0, on the CPU, not requiring grad.
        The model is left on ``device``, in eval mode.
    """
    raise NotImplementedError
