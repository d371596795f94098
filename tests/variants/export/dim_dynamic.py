"""Correct, written differently: the batch dimension declared as Dim.DYNAMIC instead of a named Dim."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn
from torch.export import Dim


def export_model(model: nn.Module, example_input: torch.Tensor, path: str | os.PathLike) -> None:
    was_training = model.training
    # Export records the graph of the mode the model is in: in training mode dropout and batch-norm's
    # batch statistics would be baked into the artifact. Switch to eval for the trace, then restore.
    model.eval()
    try:
        # Without dynamic_shapes the batch size of example_input is burnt in as a constant and any other
        # batch size is rejected at call time. Dim marks dim 0 of the first argument as symbolic.
        program = torch.export.export(model, (example_input,), dynamic_shapes=({0: Dim.DYNAMIC},))
    finally:
        model.train(was_training)
    torch.export.save(program, path)


def load_exported(path: str | os.PathLike) -> Callable[[torch.Tensor], torch.Tensor]:
    # torch.export.load gives back the ExportedProgram; .module() turns it into a callable nn.Module that
    # needs none of the original Python classes.
    return torch.export.load(path).module()


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        # inference_mode is no_grad plus no version counters or views tracking: the fastest way to run a
        # forward pass whose result will never be used for backward.
        with torch.inference_mode():
            return torch.softmax(model(x), dim=-1)
    finally:
        # Restore the caller's mode even if the forward pass raised.
        model.train(was_training)
