"""One training step of a GAN, split in its two halves: the discriminator update and the generator update.

The discriminator outputs raw logits (no sigmoid at its end), so both steps use
``torch.nn.BCEWithLogitsLoss`` (mean over the batch). Labels: real = 1, fake = 0.

Rules that hold for both functions:
- Both networks are put in training mode (``.train()``) before they are used, and stay in it.
- The labels are built with the shape, dtype and device of the logits they are compared with (the
  discriminator may return (B, 1) or (B,)), e.g. ``torch.ones_like(logits)``.
- The gradients of the network being updated are cleared before the backward pass
  (``optimizer.zero_grad()`` or ``network.zero_grad()``), so stale gradients never leak into a step.
- ``real`` and ``noise`` are used as given (no new random numbers) and are not modified.
- The loss is returned as a Python float (``loss.item()``), computed before the optimizer step.
"""

from __future__ import annotations

import torch
from torch import nn


def discriminator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    real: torch.Tensor,
    noise: torch.Tensor,
    d_optimizer: torch.optim.Optimizer,
) -> float:
    """Update the discriminator once: teach it to say 1 for ``real`` and 0 for ``generator(noise)``.

    Args:
        generator: maps noise (B, Z) to samples shaped like ``real``.
        discriminator: maps a batch of samples to logits, shape (B, 1) or (B,).
        real: a batch of real samples.
        noise: the generator's input for this step, shape (B, Z).
        d_optimizer: an optimizer over the discriminator's parameters only.

    Returns:
        The discriminator loss as a float: the SUM of the two batch means
        ``BCEWithLogits(D(real), 1) + BCEWithLogits(D(fake), 0)`` (as in PyTorch's DCGAN tutorial, not their
        average), where ``fake = generator(noise)``. The discriminator sees the real and the fake batch (two
        calls, or one on the concatenated batch: the same for the networks the grader uses).

    Side effects:
        ``d_optimizer.step()`` is called once after ``backward()``. The generator is not trained here: its
        parameters are unchanged and no gradient reaches them (a ``.grad`` that was None stays None), so the
        fake batch must be cut from the generator's graph (``.detach()`` or ``torch.no_grad()``).
    """
    raise NotImplementedError


def generator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    noise: torch.Tensor,
    g_optimizer: torch.optim.Optimizer,
) -> float:
    """Update the generator once, with the non-saturating loss: make D say 1 for ``generator(noise)``.

    Args:
        generator: maps noise (B, Z) to samples.
        discriminator: maps samples to logits, shape (B, 1) or (B,).
        noise: the generator's input for this step, shape (B, Z).
        g_optimizer: an optimizer over the generator's parameters only.

    Returns:
        The generator loss as a float: ``BCEWithLogits(D(generator(noise)), 1)``, the batch mean, i.e. the
        fakes are labelled REAL (the non-saturating loss, which is minimised), not
        ``-BCEWithLogits(D(G(z)), 0)`` (the saturating one from the original minimax game).

    Side effects:
        ``g_optimizer.step()`` is called once after ``backward()``. The discriminator is not trained here:
        its parameters keep their values and their ``requires_grad`` flags (freezing it with
        ``requires_grad_(False)`` is allowed only if you restore it). The gradient must flow *through* the
        discriminator into the generator, so the discriminator's own ``.grad`` may be changed by this step:
        that is allowed, since ``discriminator_step`` clears them before it uses them.
    """
    raise NotImplementedError
