"""Grading tests for the gan_step exercise: tiny seeded MLPs trained by the submission and by the reference
from the same start must end with the same weights and losses; each step must leave the other network
alone."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.testing import assert_close

Z, X, B = 3, 2, 6


def _explain(text: str) -> Callable[[str], str]:
    # assert_close calls a callable msg with its own report (which elements differ, by how much): keep both.
    return lambda report: f"{text}\n{report}"


def _nets(seed: int, flat_logits: bool = False) -> tuple[nn.Module, nn.Module]:
    """A tiny generator and discriminator with seeded weights (no dropout or batch norm, so the order and
    grouping of forward calls cannot change the numbers)."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(Z, 8), nn.Tanh(), nn.Linear(8, X))
    disc_layers: list[nn.Module] = [nn.Linear(X, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)]
    if flat_logits:
        disc_layers.append(nn.Flatten(0))  # logits of shape (B,) instead of (B, 1)
    return generator.double(), nn.Sequential(*disc_layers).double()


def _batch(seed: int, batch: int = B) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(batch, X, generator=gen, dtype=torch.float64) * 0.5 + 2.0
    noise = torch.randn(batch, Z, generator=gen, dtype=torch.float64)
    return real, noise


def _sgd(module: nn.Module) -> torch.optim.Optimizer:
    # Plain SGD with momentum: unlike Adam its update scales with the loss, so sum vs mean shows.
    return torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.5)


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


Pair = tuple[nn.Module, nn.Module]


def _twins(seed: int, flat_logits: bool = False) -> tuple[Pair, Pair]:
    """Two identical (generator, discriminator) pairs: one for the submission, one for the reference."""
    g, d = _nets(seed, flat_logits)
    return (g, d), (copy.deepcopy(g), copy.deepcopy(d))


def _float_loss(value: object, what: str) -> float:
    assert isinstance(value, float), (
        f"{what} must return the loss as a Python float (loss.item()), got {type(value).__name__}")
    return value


# --- discriminator_step ------------------------------------------------------------------------------------

@pytest.mark.task("discriminator_step")
@pytest.mark.parametrize("flat_logits", [False, True], ids=["logits_Bx1", "logits_B"])
def test_discriminator_step_matches_reference(submission, reference, flat_logits: bool) -> None:
    (g_sub, d_sub), (g_ref, d_ref) = _twins(1, flat_logits)
    real, noise = _batch(2)
    loss_sub = submission.discriminator_step(g_sub, d_sub, real, noise, _sgd(d_sub))
    loss_ref = reference.discriminator_step(g_ref, d_ref, real, noise, _sgd(d_ref))
    assert_close(_float_loss(loss_sub, "discriminator_step"), loss_ref, msg=_explain(
        "the returned discriminator loss differs: it is BCEWithLogits(D(real), ones) + "
        "BCEWithLogits(D(fake), zeros), the sum of the two batch means, measured before the step."))
    assert_close(_params(d_sub), _params(d_ref), msg=_explain(
        "the discriminator's weights after one step differ from the reference: real samples are labelled 1, "
        "fakes 0, the two BCEWithLogits means are added (not averaged) and d_optimizer steps once."))


@pytest.mark.task("discriminator_step")
def test_discriminator_step_loss_is_sum_of_bce_terms(submission) -> None:
    g, d = _nets(3)
    real, noise = _batch(4)
    with torch.no_grad():
        bce = nn.functional.binary_cross_entropy_with_logits
        real_logits, fake_logits = d(real), d(g(noise))
        expected = (bce(real_logits, torch.ones_like(real_logits))
                    + bce(fake_logits, torch.zeros_like(fake_logits))).item()
    loss = submission.discriminator_step(g, d, real, noise, _sgd(d))
    assert_close(_float_loss(loss, "discriminator_step"), expected, msg=_explain(
        "the loss should be BCEWithLogits(D(real), 1) + BCEWithLogits(D(G(noise)), 0) on the raw logits "
        "(no extra sigmoid: BCEWithLogitsLoss applies it)."))


@pytest.mark.task("discriminator_step")
def test_discriminator_step_leaves_generator_alone(submission) -> None:
    g, d = _nets(5)
    real, noise = _batch(6)
    before = _params(g)
    submission.discriminator_step(g, d, real, noise, _sgd(d))
    assert all(p.grad is None for p in g.parameters()), (
        "after discriminator_step the generator's parameters have gradients: the fake batch must be "
        "detached (generator(noise).detach()) so the discriminator's backward stops before the generator")
    assert_close(_params(g), before, msg="discriminator_step must not change the generator's weights")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_clears_old_gradients(submission, reference) -> None:
    (g_sub, d_sub), (g_ref, d_ref) = _twins(7)
    real, noise = _batch(8)
    for d in (d_sub, d_ref):
        # Left-over gradients, as a previous generator step leaves them in the discriminator.
        for i, p in enumerate(d.parameters()):
            p.grad = torch.full_like(p, 0.3 * (i + 1))
    submission.discriminator_step(g_sub, d_sub, real, noise, _sgd(d_sub))
    reference.discriminator_step(g_ref, d_ref, real, noise, _sgd(d_ref))
    assert_close(_params(d_sub), _params(d_ref), msg=_explain(
        "the discriminator already held gradients from earlier and the weights after the step differ from "
        "the reference: are the gradients zeroed (d_optimizer.zero_grad()) before backward()?"))


@pytest.mark.task("discriminator_step")
def test_discriminator_step_uses_train_mode(submission) -> None:
    g, d = _nets(9)
    real, noise = _batch(10)
    g.eval()
    d.eval()
    seen: list[tuple[str, bool]] = []
    g.register_forward_pre_hook(lambda module, args: seen.append(("generator", module.training)))
    d.register_forward_pre_hook(lambda module, args: seen.append(("discriminator", module.training)))
    submission.discriminator_step(g, d, real, noise, _sgd(d))
    assert seen, "discriminator_step never called the networks"
    assert all(training for _, training in seen), (
        f"the networks were given in eval mode and were called in eval mode ({seen}): call .train() on "
        "both before using them")
    assert g.training and d.training, "both networks must be left in training mode"


@pytest.mark.task("discriminator_step")
def test_discriminator_step_does_not_modify_inputs(submission) -> None:
    g, d = _nets(11)
    real, noise = _batch(12)
    before = real.clone(), noise.clone()
    submission.discriminator_step(g, d, real, noise, _sgd(d))
    assert_close((real, noise), before, msg="discriminator_step must not modify real or noise")


# --- generator_step ----------------------------------------------------------------------------------------

@pytest.mark.task("generator_step")
@pytest.mark.parametrize("flat_logits", [False, True], ids=["logits_Bx1", "logits_B"])
def test_generator_step_matches_reference(submission, reference, flat_logits: bool) -> None:
    (g_sub, d_sub), (g_ref, d_ref) = _twins(13, flat_logits)
    _, noise = _batch(14)
    loss_sub = submission.generator_step(g_sub, d_sub, noise, _sgd(g_sub))
    loss_ref = reference.generator_step(g_ref, d_ref, noise, _sgd(g_ref))
    assert_close(_float_loss(loss_sub, "generator_step"), loss_ref, msg=_explain(
        "the returned generator loss differs: it is BCEWithLogits(D(G(noise)), ones), the fakes labelled "
        "as real (the non-saturating loss), measured before the step."))
    assert_close(_params(g_sub), _params(g_ref), msg=_explain(
        "the generator's weights after one step differ from the reference: minimise "
        "BCEWithLogits(D(G(noise)), 1) with the gradient flowing through D into G, then g_optimizer.step()."))


@pytest.mark.task("generator_step")
def test_generator_step_loss_is_non_saturating(submission) -> None:
    g, d = _nets(15)
    _, noise = _batch(16)
    with torch.no_grad():
        logits = d(g(noise))
        expected = nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).item()
    loss = submission.generator_step(g, d, noise, _sgd(g))
    assert_close(_float_loss(loss, "generator_step"), expected, msg=_explain(
        "the generator loss should be BCEWithLogits(D(G(noise)), 1): label the fakes 1 and minimise it "
        "(not BCE with label 0, and not its negative)."))


@pytest.mark.task("generator_step")
def test_generator_step_leaves_discriminator_alone(submission) -> None:
    g, d = _nets(17)
    _, noise = _batch(18)
    before = _params(d)
    g_before = _params(g)
    submission.generator_step(g, d, noise, _sgd(g))
    assert_close(_params(d), before, msg="generator_step must not change the discriminator's weights")
    assert all(p.requires_grad for p in d.parameters()), (
        "after generator_step some discriminator parameters have requires_grad=False: if you freeze the "
        "discriminator for the generator's backward pass, restore requires_grad_(True) afterwards, or the "
        "next discriminator_step cannot train it")
    changed = any(not torch.equal(a, b) for a, b in zip(_params(g), g_before, strict=True))
    assert changed, (
        "generator_step did not change the generator's weights: is the fake batch detached, or D run under "
        "torch.no_grad(), so no gradient reaches the generator?")


@pytest.mark.task("generator_step")
def test_generator_step_clears_old_gradients(submission, reference) -> None:
    (g_sub, d_sub), (g_ref, d_ref) = _twins(19)
    _, noise = _batch(20)
    for g in (g_sub, g_ref):
        for i, p in enumerate(g.parameters()):
            p.grad = torch.full_like(p, -0.2 * (i + 1))
    submission.generator_step(g_sub, d_sub, noise, _sgd(g_sub))
    reference.generator_step(g_ref, d_ref, noise, _sgd(g_ref))
    assert_close(_params(g_sub), _params(g_ref), msg=_explain(
        "the generator already held gradients and its weights after the step differ from the reference: "
        "are the gradients zeroed (g_optimizer.zero_grad()) before backward()?"))


@pytest.mark.task("generator_step")
def test_generator_step_uses_train_mode(submission) -> None:
    g, d = _nets(21)
    _, noise = _batch(22)
    g.eval()
    d.eval()
    seen: list[tuple[str, bool]] = []
    g.register_forward_pre_hook(lambda module, args: seen.append(("generator", module.training)))
    d.register_forward_pre_hook(lambda module, args: seen.append(("discriminator", module.training)))
    submission.generator_step(g, d, noise, _sgd(g))
    assert seen, "generator_step never called the networks"
    assert all(training for _, training in seen), (
        f"the networks were given in eval mode and were called in eval mode ({seen}): call .train() on "
        "both before using them")
    assert g.training and d.training, "both networks must be left in training mode"


@pytest.mark.task("generator_step")
def test_generator_step_does_not_modify_noise(submission) -> None:
    g, d = _nets(23)
    _, noise = _batch(24)
    before = noise.clone()
    submission.generator_step(g, d, noise, _sgd(g))
    assert_close(noise, before, msg="generator_step must not modify noise")


# --- both together -----------------------------------------------------------------------------------------

@pytest.mark.task("generator_step")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_alternating_training_matches_reference(submission, reference, optimizer: str) -> None:
    (g_sub, d_sub), (g_ref, d_ref) = _twins(25)

    def make(module: nn.Module) -> torch.optim.Optimizer:
        if optimizer == "adam":
            return torch.optim.Adam(module.parameters(), lr=0.01, betas=(0.5, 0.999))
        return _sgd(module)

    runs = []
    for module, g, d in ((submission, g_sub, d_sub), (reference, g_ref, d_ref)):
        g_opt, d_opt = make(g), make(d)
        losses = []
        for step in range(6):
            real, noise = _batch(100 + step)
            losses.append(module.discriminator_step(g, d, real, noise, d_opt))
            losses.append(module.generator_step(g, d, noise, g_opt))
        runs.append((losses, _params(g), _params(d)))
    (losses_sub, g_sub_after, d_sub_after), (losses_ref, g_ref_after, d_ref_after) = runs
    assert_close(losses_sub, losses_ref, msg=_explain(
        f"over 6 alternating D/G steps ({optimizer}) the losses drift away from the reference's: check "
        "zero_grad in both steps, the detach in the discriminator step, and that each step only moves "
        "its own network."))
    assert_close(g_sub_after + d_sub_after, g_ref_after + d_ref_after, msg=_explain(
        f"after 6 alternating D/G steps ({optimizer}) the weights differ from the reference."))
