"""Ready a trained classifier for serving: export it, load it back without its Python class, predict.

The export format is ``torch.export`` (``torch.export.export`` + ``torch.export.save``, a ``.pt2`` archive).
Why not TorchScript: ``torch.jit.script``/``torch.jit.trace`` are deprecated in current PyTorch (they warn
"Please switch to torch.compile or torch.export"), and ``torch.export`` is the supported path to
serving runtimes (AOTInductor, ExecuTorch). The archive holds the graph and the weights, so the serving
process needs no Python source of the model.

Models in this exercise take a float tensor (B, F) and return class logits (B, C). They may contain
dropout and batch normalisation, and all their submodules are in the same mode as the model itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn


def export_model(model: nn.Module, example_input: torch.Tensor, path: str | os.PathLike) -> None:
    """Export ``model`` with ``torch.export`` and save it to ``path`` with ``torch.export.save``.

    Args:
        model: the trained classifier, in training or eval mode.
        example_input: one batch (B, F) to trace with, B >= 2.
        path: the file to write (by convention ending in ``.pt2``).

    Contract:
        - The saved program computes the model in evaluation mode: dropout off, batch norm using its
          running statistics. (Export traces the mode the model is in at the time.)
        - The batch dimension (dim 0) is dynamic: the loaded program accepts any batch size >= 1, not only
          ``example_input``'s. The feature dimension stays fixed.
        - ``torch.export.load(path)`` works in a fresh Python process that never imported the model's class.
        - The model's training flag is the same after the call as before it, and its parameters and
          buffers are unchanged.
    """
    raise NotImplementedError


def load_exported(path: str | os.PathLike) -> Callable[[torch.Tensor], torch.Tensor]:
    """Load what ``export_model`` saved and return something callable: ``fn(x)`` gives the logits (B, C).

    It must work in a fresh process where the model's Python class does not exist (``torch.load`` cannot
    read a ``torch.export`` archive: it has its own loader).
    """
    raise NotImplementedError


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities for the batch ``x`` (B, F), as a server would compute them.

    Returns:
        ``softmax(model(x), dim=-1)``, shape (B, C), each row summing to 1, computed:
        - in evaluation mode (dropout off, batch norm on its running statistics, which are not updated);
        - under ``torch.inference_mode()``, so no autograd graph is recorded: the result is an inference
          tensor (``result.is_inference()`` is True) with ``requires_grad`` False.

    Side effects:
        None that last: the model's training flag is the same afterwards as before (a model given in
        training mode is back in training mode), even when the forward pass raises; ``x`` is not modified.
    """
    raise NotImplementedError
