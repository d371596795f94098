# MUTANT: applies sigmoid to the logits before BCEWithLogitsLoss in the generator step only (a double sigmoid)
"""Reference solution: one GAN training step, discriminator half and generator half."""

from __future__ import annotations

import torch
from torch import nn

# BCEWithLogitsLoss fuses the sigmoid into the loss (log-sum-exp trick): stable where sigmoid + BCELoss
# saturates. The discriminator must therefore return raw logits.
_bce = nn.BCEWithLogitsLoss()


def discriminator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    real: torch.Tensor,
    noise: torch.Tensor,
    d_optimizer: torch.optim.Optimizer,
) -> float:
    generator.train()
    discriminator.train()
    d_optimizer.zero_grad()

    # detach() cuts the fake batch from the generator's graph: backward stops here, the generator's
    # parameters get no gradient, and no time is spent differentiating through it.
    fake = generator(noise).detach()
    logits_real = discriminator(real)
    logits_fake = discriminator(fake)
    loss = _bce(logits_real, torch.ones_like(logits_real)) + _bce(logits_fake, torch.zeros_like(logits_fake))

    loss.backward()
    d_optimizer.step()
    return loss.item()


def generator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    noise: torch.Tensor,
    g_optimizer: torch.optim.Optimizer,
) -> float:
    generator.train()
    discriminator.train()
    g_optimizer.zero_grad()

    logits = torch.sigmoid(discriminator(generator(noise)))
    # Non-saturating loss: label the fakes as real and minimise. Its gradient stays large while D easily
    # rejects the fakes, early in training, where log(1 - D(G(z))) would be flat.
    loss = _bce(logits, torch.ones_like(logits))

    # backward also fills the discriminator's .grad (the gradient has to pass through it), but only
    # g_optimizer steps, and it holds only the generator's parameters.
    loss.backward()
    g_optimizer.step()
    return loss.item()
