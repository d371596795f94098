"""Find the hot spot and fix it: observed with the profiler, not timed.

Wall-clock timings are noisy; what a step *does* is not. ``torch.profiler`` records every aten operator a
piece of code dispatches, so a per-batch host sync, a per-row model call or a needless copy shows up as an
operator count that grows with the data. You write ``count_ops``, then fix the three slow steps below,
each of which has one classic anti-pattern. The grader counts the operators of your fixed steps itself
(with its own ``torch.profiler`` run, plus a count of the reads of a tensor's value into Python in
``fast_mean_loss``) and compares their results with the slow steps'. Nothing is timed.
Everything runs on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


def count_ops(fn: Callable[..., Any], *args: Any) -> dict[str, int]:
    """Call ``fn(*args)`` once under ``torch.profiler.profile(activities=[ProfilerActivity.CPU])`` and return
    how many times each aten operator ran: ``{name: count}`` for every entry of ``prof.key_averages()``
    whose name starts with ``"aten::"``, with its ``.count`` (an int).

    Every call counts, nested ones too: ``nn.Linear`` on a 2-D input shows ``aten::linear`` and, inside it,
    ``aten::addmm``; ``t.item()`` shows ``aten::item`` and ``aten::_local_scalar_dense``. Operators that
    never ran are absent (no zero entries). Other events, such as ``torch.profiler.record_function`` labels,
    are left out. No timings: the same code gives the same dict every time. ``fn`` runs exactly once
    (no warm-up call inside the profiler); its return value is not needed.
    """
    raise NotImplementedError


# --- the slow steps (given: read them, do not change them) --------------------------------------------------

def slow_mean_loss(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """The mean loss over all samples of ``batches`` (evaluation, no gradients), as a Python float.

    ``loss_fn`` returns the mean loss of a batch, so each batch's loss is weighted by its size
    ``len(inputs)``; sizes may differ. Anti-pattern: ``.item()`` on every batch, a host sync (on a GPU, Python
    waits there until the kernels queued before it have run): ``aten::_local_scalar_dense`` runs once per
    batch.
    """
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, targets in batches:
            loss = loss_fn(model(inputs), targets)
            total += loss.item() * len(inputs)
            count += len(inputs)
    return total / count


def slow_predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs for every row of ``x`` (N, features), without gradients: (N, outputs).

    Anti-pattern: a Python loop over the samples, one model call per row, so every ``nn.Linear`` runs N
    small matrix multiplies (``aten::addmm`` N times per layer) instead of one.
    """
    with torch.no_grad():
        return torch.cat([model(x[i:i + 1]) for i in range(len(x))])


def slow_standardize(x: torch.Tensor) -> torch.Tensor:
    """Each column of ``x`` (N, D) shifted to mean 0 and scaled by its standard deviation (``x.std(dim=0)``,
    the unbiased estimate). ``x`` is often a non-contiguous view (a transpose of column-major data).

    Anti-pattern: ``x.contiguous()`` copies all of a non-contiguous x (``aten::clone``) though none of the
    operations after it needs a contiguous tensor.
    """
    x = x.contiguous()
    return (x - x.mean(dim=0)) / x.std(dim=0)


# --- your fixes -----------------------------------------------------------------------------------------------

def fast_mean_loss(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """``slow_mean_loss`` with a single host sync.

    Same arguments and result: a Python float equal to ``slow_mean_loss``'s up to rounding (relative
    difference at most 1e-5), one model call per batch, with gradients off (``torch.no_grad()`` or
    ``torch.inference_mode()``). Accumulate the weighted
    losses as a tensor and convert to a Python number once, at the end, with ``.item()`` or ``float(t)``:
    whatever the number of batches, ``aten::_local_scalar_dense`` (what ``.item()``, ``float(t)``, ``int(t)``
    and ``bool(t)`` (an ``if`` on a tensor) dispatch to) runs exactly once, and a tensor's value is read into
    Python exactly once in all. ``.tolist()``, ``.numpy()`` and ``np.asarray(t)`` are reads too (a host sync on
    a GPU) though the profiler shows no operator for them on the CPU: the grader counts them with a
    ``torch.overrides.TorchFunctionMode``.
    """
    raise NotImplementedError


def fast_predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``slow_predict`` with the model called once on the whole batch.

    Same result (allclose: torch.testing's default tolerances for x's dtype; a batched matrix multiply may
    round differently from N single-row ones), shape (N, outputs), without gradients: the model runs with
    gradients off (``torch.no_grad()`` or ``torch.inference_mode()``; a ``.detach()`` after a recorded forward
    is not enough), so the output does not require grad. The model's forward runs once, so each ``nn.Linear``
    runs ``aten::addmm`` once. The model's train/eval mode is left as it is.
    """
    raise NotImplementedError


def fast_standardize(x: torch.Tensor) -> torch.Tensor:
    """``slow_standardize`` without the copy.

    Same values (allclose: torch.testing's default tolerances for x's dtype; reductions over a strided
    tensor may add in another order), shape (N, D), x's dtype. No ``aten::clone`` at all (what
    ``.contiguous()`` of a non-contiguous tensor, ``.clone()`` and a copying ``.reshape`` dispatch to), and
    ``x`` is not modified (no in-place ops on it).
    """
    raise NotImplementedError
