"""Grading tests for the gan_step exercise. Each test observes; the judge compares with the reference's run.

The most specific checks come first, each isolating one property: the type of the returned loss, the loss on
hand-built networks whose logits are known (so the value tells a sum from an average, a second sigmoid or
swapped labels), the gradients the optimizer's step() sees, whether the other network was touched, and the
gradients already present when the backward pass reaches the network being trained (zero_grad). Overall
comparisons of weights and of several alternating steps come after them.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import observe

Z, X, B = 3, 2, 6
NOT_REACHED = "no gradient reached this parameter"


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))  # BCEWithLogits(logit, 1) = softplus(-logit), (logit, 0) = softplus(logit)


def _nets(seed: int, flat_logits: bool = False) -> tuple[nn.Module, nn.Module]:
    """A tiny generator and discriminator with seeded weights (no dropout or batch norm, so the order and
    grouping of forward calls cannot change the numbers)."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(Z, 8), nn.Tanh(), nn.Linear(8, X))
    disc_layers: list[nn.Module] = [nn.Linear(X, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)]
    if flat_logits:
        disc_layers.append(nn.Flatten(0))  # logits of shape (B,) instead of (B, 1)
    return generator.double(), nn.Sequential(*disc_layers).double()


def _zero_logit_nets(seed: int) -> tuple[nn.Module, nn.Module]:
    """Seeded networks whose discriminator says exactly 0 (a logit) for every input."""
    generator, discriminator = _nets(seed)
    with torch.no_grad():
        discriminator[2].weight.zero_()
        discriminator[2].bias.zero_()
    return generator, discriminator


def _known_logit_nets() -> tuple[nn.Module, nn.Module]:
    """G(noise) = (-1, 0) for every noise; D(x) = x[0]: D gives 2 to the real batch below and -1 to fakes."""
    torch.manual_seed(0)
    generator, discriminator = nn.Linear(Z, X).double(), nn.Linear(X, 1).double()
    with torch.no_grad():
        generator.weight.zero_()
        generator.bias.copy_(torch.tensor([-1.0, 0.0]))
        discriminator.weight.copy_(torch.tensor([[1.0, 0.0]]))
        discriminator.bias.zero_()
    return generator, discriminator


KNOWN_REAL = torch.tensor([[2.0, 0.3], [2.0, -0.7], [2.0, 1.1]], dtype=torch.float64)


def _batch(seed: int, batch: int = B) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(batch, X, generator=gen, dtype=torch.float64) * 0.5 + 2.0
    noise = torch.randn(batch, Z, generator=gen, dtype=torch.float64)
    return real, noise


class RecordingSGD(torch.optim.SGD):
    """Plain SGD with momentum (its update scales with the loss, so sum vs mean shows) that records the
    gradients it sees at each step()."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module.parameters(), lr=0.1, momentum=0.5)
        self.seen: list[list[torch.Tensor | None]] = []

    def step(self, closure=None):
        self.seen.append([None if p.grad is None else p.grad.clone() for p in self.param_groups[0]["params"]])
        return super().step(closure)


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _stale_gradients(module: nn.Module, scale: float) -> None:
    # Left-over gradients, as the other half of a GAN step leaves them.
    for i, p in enumerate(module.parameters()):
        p.grad = torch.full_like(p, scale * (i + 1))


def _watch_grad_before_backward(module: nn.Module) -> dict[int, torch.Tensor]:
    """For each parameter, what its .grad held when the backward pass first reached it (None as zeros)."""
    found: dict[int, torch.Tensor] = {}
    for i, p in enumerate(module.parameters()):
        def hook(grad, i=i, p=p):  # a leaf's hook runs before the new gradient is added into p.grad
            if i not in found:
                found[i] = torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
        p.register_hook(hook)
    return found


def _observe_modes(function: str, seen: list[tuple[str, bool]], g: nn.Module, d: nn.Module) -> None:
    observe(f"(network, training mode) of the forward calls in {function}, both networks given in eval mode",
            sorted(set(seen)), explain="call .train() on both networks before using them")
    observe(f"generator.training after {function}", g.training, explain="leave both networks in training mode")
    observe(f"discriminator.training after {function}", d.training, explain="leave both networks in training mode")


def _mode_spies(g: nn.Module, d: nn.Module) -> list[tuple[str, bool]]:
    g.eval()
    d.eval()
    seen: list[tuple[str, bool]] = []
    g.register_forward_pre_hook(lambda module, args: seen.append(("generator", module.training)))
    d.register_forward_pre_hook(lambda module, args: seen.append(("discriminator", module.training)))
    return seen


# --- discriminator_step ------------------------------------------------------------------------------------

@pytest.mark.task("discriminator_step")
def test_discriminator_step_returns_a_float(impl) -> None:
    g, d = _nets(1)
    real, noise = _batch(2)
    loss = impl.discriminator_step(g, d, real, noise, RecordingSGD(d))
    observe("the type of what discriminator_step returns", type(loss).__name__, expect="float",
            explain="return the loss as a Python float: loss.item()")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_loss_when_every_logit_is_zero(impl) -> None:
    g, d = _zero_logit_nets(3)
    real, noise = _batch(4)
    loss = impl.discriminator_step(g, d, real, noise, RecordingSGD(d))
    double_sigmoid = _softplus(-0.5) + _softplus(0.5)
    observe("discriminator_step's loss when D's logit is 0 for every sample", loss, expect=2 * math.log(2),
            explain="with every logit 0, each BCEWithLogits term is ln 2 = 0.6931 whatever its label, and the loss "
                    f"is their sum, 2 ln 2 = 1.3863 (ln 2 would mean the two terms were averaged, not added; "
                    f"{double_sigmoid:.4f} that a sigmoid was applied to the logits, which BCEWithLogitsLoss "
                    "does itself)")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_loss_with_known_logits(impl) -> None:
    g, d = _known_logit_nets()
    _, noise = _batch(5, batch=3)
    loss = impl.discriminator_step(g, d, KNOWN_REAL, noise, RecordingSGD(d))
    want, swapped = _softplus(-2.0) + _softplus(-1.0), _softplus(2.0) + _softplus(1.0)
    observe("discriminator_step's loss when D says 2 to every real sample and -1 to every fake", loss,
            expect=want,
            explain=f"real samples are labelled 1 and fakes 0: BCEWithLogits(2, 1) + BCEWithLogits(-1, 0) = "
                    f"softplus(-2) + softplus(-1) = {want:.4f}, measured before the step ({swapped:.4f} would "
                    "mean the labels are swapped)")


@pytest.mark.task("discriminator_step")
@pytest.mark.parametrize("flat_logits", [False, True], ids=["logits_Bx1", "logits_B"])
def test_discriminator_step_gradients_and_update(impl, flat_logits: bool) -> None:
    g, d = _nets(1, flat_logits)
    real, noise = _batch(2)
    optimizer = RecordingSGD(d)
    shape = "(B,)" if flat_logits else "(B, 1)"
    loss = impl.discriminator_step(g, d, real, noise, optimizer)
    observe(f"discriminator_step's loss, D returning logits of shape {shape}", loss,
            explain="BCEWithLogits(D(real), ones) + BCEWithLogits(D(G(noise).detach()), zeros): the sum of the two "
                    "batch means, labels shaped like the logits, measured before the step")
    observe("the number of d_optimizer.step() calls in one discriminator_step", len(optimizer.seen),
            explain="step the discriminator's optimizer exactly once")
    observe(f"the discriminator's gradients when d_optimizer.step() was called (logits {shape}), [parameter]",
            optimizer.seen[:1],
            explain="the gradient of that loss (the sum of the real and the fake term) with respect to each of "
                    "D's parameters, after one backward()")
    observe(f"the discriminator's weights after discriminator_step (logits {shape})", _params(d),
            explain="one d_optimizer.step() with those gradients")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_leaves_generator_alone(impl) -> None:
    g, d = _nets(5)
    real, noise = _batch(6)
    before = _params(g)
    impl.discriminator_step(g, d, real, noise, RecordingSGD(d))
    observe("the generator's .grad after discriminator_step, [parameter]", [p.grad for p in g.parameters()],
            expect=[None] * len(before),
            explain="the generator gets no gradient in the discriminator step: detach the fake batch "
                    "(generator(noise).detach()) so D's backward stops before the generator")
    observe("the generator's weights after discriminator_step", _params(g), expect=before, exact=True,
            explain="discriminator_step must not change the generator's weights")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_clears_old_gradients(impl) -> None:
    g, d = _nets(7)
    real, noise = _batch(8)
    _stale_gradients(d, 0.3)
    found = _watch_grad_before_backward(d)
    optimizer = RecordingSGD(d)
    impl.discriminator_step(g, d, real, noise, optimizer)
    count = len(list(d.parameters()))
    observe("how many of the discriminator's parameters its backward pass reached", len(found), expect=count,
            explain="the discriminator loss's backward() reaches every parameter of D")
    observe("the discriminator's .grad when the backward pass reached it, D holding old gradients before the "
            "step, [parameter]", [found.get(i, NOT_REACHED) for i in range(count)],
            expect=[torch.zeros_like(p) for p in d.parameters()],
            explain="None or zeros: clear the gradients left from earlier (d_optimizer.zero_grad()) before "
                    "backward(), or they are added to this step's")
    observe("the discriminator's weights after discriminator_step, D holding old gradients before it", _params(d),
            explain="one d_optimizer.step() with the gradient of this step's loss")


@pytest.mark.task("discriminator_step")
def test_discriminator_step_uses_train_mode(impl) -> None:
    g, d = _nets(9)
    real, noise = _batch(10)
    seen = _mode_spies(g, d)
    impl.discriminator_step(g, d, real, noise, RecordingSGD(d))
    _observe_modes("discriminator_step", seen, g, d)


@pytest.mark.task("discriminator_step")
def test_discriminator_step_does_not_modify_inputs(impl) -> None:
    g, d = _nets(11)
    real, noise = _batch(12)
    before = real.clone(), noise.clone()
    impl.discriminator_step(g, d, real, noise, RecordingSGD(d))
    observe("real after discriminator_step", real, expect=before[0], exact=True,
            explain="discriminator_step must not modify real")
    observe("noise after discriminator_step", noise, expect=before[1], exact=True,
            explain="discriminator_step must not modify noise")


# --- generator_step ----------------------------------------------------------------------------------------

@pytest.mark.task("generator_step")
def test_generator_step_returns_a_float(impl) -> None:
    g, d = _nets(13)
    _, noise = _batch(14)
    loss = impl.generator_step(g, d, noise, RecordingSGD(g))
    observe("the type of what generator_step returns", type(loss).__name__, expect="float",
            explain="return the loss as a Python float: loss.item()")


@pytest.mark.task("generator_step")
def test_generator_step_loss_with_known_logits(impl) -> None:
    g, d = _known_logit_nets()
    _, noise = _batch(15, batch=3)
    loss = impl.generator_step(g, d, noise, RecordingSGD(g))
    want, label_zero = _softplus(1.0), _softplus(-1.0)
    double_sigmoid = _softplus(-1 / (1 + math.e))
    observe("generator_step's loss when D says -1 to every fake", loss, expect=want,
            explain=f"the non-saturating loss labels the fakes 1: BCEWithLogits(-1, 1) = softplus(1) = {want:.4f}, "
                    f"measured before the step ({label_zero:.4f} would be the fakes labelled 0, {-label_zero:.4f} "
                    f"the saturating -BCE(logits, 0), {double_sigmoid:.4f} a sigmoid applied to the logits, which "
                    "BCEWithLogitsLoss does itself)")


@pytest.mark.task("generator_step")
@pytest.mark.parametrize("flat_logits", [False, True], ids=["logits_Bx1", "logits_B"])
def test_generator_step_gradients_and_update(impl, flat_logits: bool) -> None:
    g, d = _nets(13, flat_logits)
    _, noise = _batch(14)
    optimizer = RecordingSGD(g)
    reached = _watch_grad_before_backward(g)
    shape = "(B,)" if flat_logits else "(B, 1)"
    loss = impl.generator_step(g, d, noise, optimizer)
    observe(f"generator_step's loss, D returning logits of shape {shape}", loss,
            explain="BCEWithLogits(D(G(noise)), ones): the fakes labelled as real, labels shaped like the logits, "
                    "measured before the step")
    observe("the number of g_optimizer.step() calls in one generator_step", len(optimizer.seen),
            explain="step the generator's optimizer exactly once")
    observe(f"for each generator parameter: did the backward pass of generator_step reach it? (logits {shape})",
            [i in reached for i in range(len(list(g.parameters())))],
            explain="the generator loss's backward() reaches every parameter of G through D: call backward() on it, "
                    "and do not detach G(noise) or run the networks under torch.no_grad() in generator_step")
    observe(f"the generator's gradients when g_optimizer.step() was called (logits {shape}), [parameter]",
            optimizer.seen[:1],
            explain="the gradient of that loss with respect to each of G's parameters, flowing back through D "
                    "into G, after one backward()")
    observe(f"the generator's weights after generator_step (logits {shape})", _params(g),
            explain="one g_optimizer.step() with those gradients")


@pytest.mark.task("generator_step")
def test_generator_step_leaves_discriminator_alone(impl) -> None:
    g, d = _nets(17)
    _, noise = _batch(18)
    before, g_before = _params(d), _params(g)
    impl.generator_step(g, d, noise, RecordingSGD(g))
    observe("the discriminator's weights after generator_step", _params(d), expect=before, exact=True,
            explain="generator_step must not change the discriminator's weights")
    observe("requires_grad of the discriminator's parameters after generator_step",
            [p.requires_grad for p in d.parameters()], expect=[True] * len(before),
            explain="if you freeze the discriminator for the generator's backward pass, restore "
                    "requires_grad_(True) afterwards, or the next discriminator_step cannot train it")
    observe("for each generator parameter: did generator_step change it?",
            [not torch.equal(a, b) for a, b in zip(_params(g), g_before, strict=True)],
            explain="every generator parameter moves: the gradient of the loss must reach G through D (no "
                    "detach of G(noise), no torch.no_grad()) and g_optimizer.step() must be called")


@pytest.mark.task("generator_step")
def test_generator_step_clears_old_gradients(impl) -> None:
    g, d = _nets(19)
    _, noise = _batch(20)
    _stale_gradients(g, -0.2)
    found = _watch_grad_before_backward(g)
    impl.generator_step(g, d, noise, RecordingSGD(g))
    count = len(list(g.parameters()))
    observe("how many of the generator's parameters its backward pass reached", len(found), expect=count,
            explain="the generator loss's backward() reaches every parameter of G through D: call backward() on it, "
                    "and do not detach G(noise) or run the networks under torch.no_grad() in generator_step")
    observe("the generator's .grad when the backward pass reached it, G holding old gradients before the "
            "step, [parameter]", [found.get(i, NOT_REACHED) for i in range(count)],
            expect=[torch.zeros_like(p) for p in g.parameters()],
            explain="None or zeros: clear the gradients left from earlier (g_optimizer.zero_grad()) before "
                    "backward(), or they are added to this step's")
    observe("the generator's weights after generator_step, G holding old gradients before it", _params(g),
            explain="one g_optimizer.step() with the gradient of this step's loss")


@pytest.mark.task("generator_step")
def test_generator_step_uses_train_mode(impl) -> None:
    g, d = _nets(21)
    _, noise = _batch(22)
    seen = _mode_spies(g, d)
    impl.generator_step(g, d, noise, RecordingSGD(g))
    _observe_modes("generator_step", seen, g, d)


@pytest.mark.task("generator_step")
def test_generator_step_does_not_modify_noise(impl) -> None:
    g, d = _nets(23)
    _, noise = _batch(24)
    before = noise.clone()
    impl.generator_step(g, d, noise, RecordingSGD(g))
    observe("noise after generator_step", noise, expect=before, exact=True,
            explain="generator_step must not modify noise")


# --- both together -----------------------------------------------------------------------------------------

@pytest.mark.task("generator_step")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_alternating_training_matches_reference(impl, optimizer: str) -> None:
    g, d = _nets(25)

    def make(module: nn.Module) -> torch.optim.Optimizer:
        if optimizer == "adam":
            return torch.optim.Adam(module.parameters(), lr=0.01, betas=(0.5, 0.999))
        return torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.5)

    g_opt, d_opt = make(g), make(d)
    for step in range(6):
        real, noise = _batch(100 + step)
        observe(f"discriminator_step's loss at alternating step {step + 1} ({optimizer})",
                impl.discriminator_step(g, d, real, noise, d_opt),
                explain="each step trains its own network from its own batch's loss, starting where the previous "
                        "steps left both networks")
        observe(f"generator_step's loss at alternating step {step + 1} ({optimizer})",
                impl.generator_step(g, d, noise, g_opt),
                explain="each step trains its own network from its own batch's loss, starting where the previous "
                        "steps left both networks")
    observe(f"the generator's weights after 6 alternating steps ({optimizer})", _params(g))
    observe(f"the discriminator's weights after 6 alternating steps ({optimizer})", _params(d))
