"""Grading tests for the lora exercise, in float64. Each LoRALinear test wraps a real nn.Linear, loads chosen
A and B into the adapter where the output must be worked out, and observes outputs, gradients,
requires_grad flags and weights; apply_lora and lora_state_dict run on a small transformer-shaped model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64


def _randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=f64)


def _linear(seed: int, n_in: int, n_out: int) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(n_in, n_out, dtype=f64)


def _layer(impl, seed: int, n_in: int = 6, n_out: int = 5, r: int = 2, alpha: float = 8.0, ab: bool = True):
    """(LoRALinear around a fresh nn.Linear, that nn.Linear's weight and bias before wrapping); with ``ab``,
    random A and B are loaded into the adapter."""
    base = _linear(seed, n_in, n_out)
    weight, bias = base.weight.detach().clone(), base.bias.detach().clone()
    layer = impl.LoRALinear(base, r, alpha)
    if ab:
        with torch.no_grad():
            layer.lora_A.copy_(_randn(seed + 1, r, n_in))
            layer.lora_B.copy_(_randn(seed + 2, n_out, r))
    return layer, weight, bias


def _delta(seed: int, n_in: int = 6, n_out: int = 5, r: int = 2, alpha: float = 8.0) -> torch.Tensor:
    return _randn(seed + 2, n_out, r) @ _randn(seed + 1, r, n_in) * (alpha / r)


# --- LoRALinear -------------------------------------------------------------------------------------------

@pytest.mark.task("LoRALinear")
def test_lora_parameters(impl) -> None:
    layer, _, _ = _layer(impl, 1, n_in=6, n_out=5, r=3, ab=False)
    observe("shapes and requires_grad of LoRALinear(nn.Linear(6, 5), r=3)'s parameters",
            {name: (tuple(p.shape), p.requires_grad) for name, p in layer.named_parameters()},
            expect={"base.weight": ((5, 6), False), "base.bias": ((5,), False), "lora_A": ((3, 6), True),
                    "lora_B": ((5, 3), True)},
            explain="the wrapped layer is frozen (requires_grad False); the adapters lora_A (r, in) and lora_B "
                    "(out, r) are the only trainable parameters")
    observe("dtype of lora_A and lora_B around a float64 nn.Linear",
            [str(layer.lora_A.dtype), str(layer.lora_B.dtype)], expect=["torch.float64", "torch.float64"],
            explain="the adapters take base.weight's dtype and device")


@pytest.mark.task("LoRALinear")
def test_lora_initialisation(impl) -> None:
    layer, _, _ = _layer(impl, 2, n_in=16, n_out=12, r=4, ab=False)
    observe("lora_B right after LoRALinear(...)", layer.lora_B, expect=torch.zeros(12, 4, dtype=f64), exact=True,
            explain="B starts at zero, so B @ A = 0 and the wrapped model is unchanged before training")
    observe("lora_A right after LoRALinear(...) is not all zeros", bool(layer.lora_A.abs().sum() > 0), expect=True,
            explain="A starts random: with A = 0 as well, neither A nor B would ever get a gradient")


@pytest.mark.task("LoRALinear")
def test_lora_starts_as_the_base_layer(impl) -> None:
    layer, weight, bias = _layer(impl, 3, ab=False)
    x = _randn(4, 3, 6)
    observe("LoRALinear output right after wrapping (B = 0)", layer(x), expect=x @ weight.T + bias,
            explain="with B = 0 the layer computes exactly what the wrapped nn.Linear does")


@pytest.mark.task("LoRALinear")
def test_lora_scaling_worked_example(impl) -> None:
    base = _linear(5, 2, 1)
    with torch.no_grad():
        base.weight.zero_()
        base.bias.zero_()
    layer = impl.LoRALinear(base, 2, 8.0)
    with torch.no_grad():
        layer.lora_A.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=f64))
        layer.lora_B.copy_(torch.tensor([[1.0, 1.0]], dtype=f64))
    observe("LoRALinear(r=2, alpha=8) output for x = [1, 2], base zero, A = I, B = [1, 1]",
            layer(torch.tensor([[1.0, 2.0]], dtype=f64)), expect=torch.tensor([[12.0]], dtype=f64),
            explain="the update is scaled by alpha / r = 8 / 2 = 4: B @ A @ x = 1 + 2 = 3, times 4 = 12 (not alpha = "
                    "8, not r / alpha)")


@pytest.mark.task("LoRALinear")
@pytest.mark.parametrize("n_in,n_out,r,alpha,shape", [(6, 5, 2, 8.0, (3,)), (8, 8, 1, 1.0, (2, 4)),
                                                      (5, 9, 4, 16.0, (2, 3, 2))],
                         ids=["6to5-r2", "8to8-r1", "5to9-r4-3d"])
def test_lora_forward(impl, n_in: int, n_out: int, r: int, alpha: float, shape: tuple[int, ...]) -> None:
    layer, weight, bias = _layer(impl, 6, n_in, n_out, r, alpha)
    x = _randn(7, *shape, n_in)
    observe(f"LoRALinear({n_in} -> {n_out}, r={r}, alpha={alpha:g}) output for x of shape {(*shape, n_in)}",
            layer(x), expect=x @ (weight + _delta(6, n_in, n_out, r, alpha)).T + bias,
            explain="base(x) + (alpha / r) * x @ A^T @ B^T, for any leading dims of x")


@pytest.mark.task("LoRALinear")
def test_lora_gradients_reach_only_the_adapters(impl) -> None:
    layer, _, _ = _layer(impl, 8)
    x = _randn(9, 4, 6)
    (layer(x) * _randn(10, 4, 5)).sum().backward()
    observe("base.weight.grad and base.bias.grad after backward", [layer.base.weight.grad, layer.base.bias.grad],
            expect=[None, None], explain="the wrapped layer is frozen, so it gets no gradient")
    observe("lora_A.grad after backward", layer.lora_A.grad,
            explain="d/dA of scaling * x A^T B^T: scaling * B^T @ upstream^T @ x")
    observe("lora_B.grad after backward", layer.lora_B.grad,
            explain="d/dB of scaling * x A^T B^T: scaling * upstream^T @ (x @ A^T)")


@pytest.mark.task("LoRALinear")
def test_lora_merge(impl) -> None:
    layer, weight, _ = _layer(impl, 11)
    x = _randn(12, 3, 6)
    before = layer(x).detach()
    layer.merge()
    observe("base.weight after merge()", layer.base.weight, expect=weight + _delta(11),
            explain="merge adds the scaled update to the frozen weight: W + (alpha / r) * B @ A")
    observe("merged after merge()", layer.merged, expect=True, explain="merge() sets merged = True")
    observe("LoRALinear output after merge() minus the output before", layer(x) - before,
            expect=torch.zeros(3, 5, dtype=f64),
            explain="a merged layer computes the same function: base(x) alone, since the update is now inside "
                    "base.weight (adding the adapter path again would count it twice)")


@pytest.mark.task("LoRALinear")
def test_lora_merge_twice(impl) -> None:
    layer, weight, _ = _layer(impl, 13)
    layer.merge()
    layer.merge()
    observe("base.weight after merge() twice", layer.base.weight, expect=weight + _delta(13),
            explain="merge() while already merged does nothing: the update is added once")


@pytest.mark.task("LoRALinear")
def test_lora_unmerge_round_trip(impl) -> None:
    layer, weight, _ = _layer(impl, 14)
    x = _randn(15, 3, 6)
    before = layer(x).detach()
    layer.merge()
    layer.unmerge()
    observe("base.weight after merge() then unmerge()", layer.base.weight, expect=weight,
            explain="unmerge subtracts the same update, restoring W (up to rounding)")
    observe("merged after unmerge()", layer.merged, expect=False, explain="unmerge() sets merged = False")
    observe("LoRALinear output after merge() and unmerge() minus the output before", layer(x) - before,
            expect=torch.zeros(3, 5, dtype=f64), explain="after the round trip the adapter path is used again")
    layer.unmerge()
    observe("base.weight after a second unmerge()", layer.base.weight, expect=weight,
            explain="unmerge() when not merged does nothing")


@pytest.mark.task("LoRALinear")
def test_lora_training_leaves_the_base_alone(impl) -> None:
    layer, weight, bias = _layer(impl, 16, ab=False)
    optimizer = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.1)
    x, target = _randn(17, 8, 6), _randn(18, 8, 5)
    for _ in range(3):
        optimizer.zero_grad()
        ((layer(x) - target) ** 2).mean().backward()
        optimizer.step()
    observe("base.weight and base.bias after 3 SGD steps on the trainable parameters",
            [layer.base.weight, layer.base.bias], expect=[weight, bias], exact=True,
            explain="only the adapters train; the wrapped weights stay exactly as they were")
    observe("lora_B after 3 SGD steps is no longer zero", bool(layer.lora_B.abs().sum() > 0), expect=True,
            explain="B gets a gradient from the first step because A is not zero")


@pytest.mark.task("LoRALinear")
def test_lora_rejects_rank_zero(impl) -> None:
    with expect_raises("LoRALinear(nn.Linear(4, 4), r=0, alpha=1)", ValueError, explain="r < 1 raises ValueError"):
        impl.LoRALinear(nn.Linear(4, 4), 0, 1.0)


# --- apply_lora -------------------------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.q_proj = nn.Linear(8, 8)
        self.v_proj = nn.Linear(8, 8)
        self.proj = nn.Linear(8, 8)
        self.out_proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + self.out_proj(torch.tanh(self.q_proj(h)) * self.v_proj(h)) + self.proj(h)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.layers = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(8, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


def _tiny(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return Tiny().to(f64)


TOKENS = torch.tensor([[1, 4, 2, 9], [0, 3, 3, 7]])


@pytest.mark.task("apply_lora")
def test_apply_lora_replaces_the_targets(impl) -> None:
    model = impl.apply_lora(_tiny(20), ["q_proj", "v_proj"], 2, 4.0)
    observe("modules wrapped by apply_lora(model, ['q_proj', 'v_proj'])",
            sorted(name for name, module in model.named_modules() if isinstance(module, impl.LoRALinear)),
            expect=["layers.0.q_proj", "layers.0.v_proj", "layers.1.q_proj", "layers.1.v_proj"],
            explain="every nn.Linear whose own name is a target, in every block, is replaced by a LoRALinear")


@pytest.mark.task("apply_lora")
def test_apply_lora_matches_names_exactly(impl) -> None:
    model = impl.apply_lora(_tiny(21), ["proj"], 2, 4.0)
    observe("modules wrapped by apply_lora(model, ['proj']) in a model with proj and out_proj layers",
            sorted(name for name, module in model.named_modules() if isinstance(module, impl.LoRALinear)),
            expect=["layers.0.proj", "layers.1.proj"],
            explain="a layer's name must equal a target: the target 'proj' matches 'proj' but not 'out_proj' or "
                    "'q_proj' (compare the last part of the qualified name, not a substring)")


@pytest.mark.task("apply_lora")
def test_apply_lora_trains_only_the_adapters(impl) -> None:
    model = impl.apply_lora(_tiny(22), ["q_proj", "v_proj"], 2, 4.0)
    observe("trainable parameters after apply_lora(model, ['q_proj', 'v_proj'])",
            sorted(name for name, p in model.named_parameters() if p.requires_grad),
            expect=sorted(f"layers.{i}.{m}.lora_{ab}" for i in (0, 1) for m in ("q_proj", "v_proj") for ab in "AB"),
            explain="only the adapters train: every other parameter (embeddings, layer norms, the head, the "
                    "wrapped weights, the layers that are not targets) has requires_grad=False")
    observe("number of trainable parameters", sum(p.numel() for p in model.parameters() if p.requires_grad),
            expect=4 * 2 * (8 + 8), explain="4 adapters of rank 2 around 8 -> 8 layers: 4 * r * (in + out) = 128")


@pytest.mark.task("apply_lora")
def test_apply_lora_keeps_the_model_function(impl) -> None:
    model = _tiny(23)
    expected = model(TOKENS).detach()
    observe("model output right after apply_lora minus the output before", impl.apply_lora(model, ["q_proj",
            "out_proj", "head"], 4, 8.0)(TOKENS) - expected, expect=torch.zeros(2, 4, 10, dtype=f64),
            explain="the adapters wrap the original layers (same weights) and start with B = 0, so the model "
                    "computes the same function")


@pytest.mark.task("apply_lora")
def test_apply_lora_fine_tune(impl) -> None:
    model = impl.apply_lora(_tiny(24), ["q_proj", "v_proj", "head"], 2, 4.0)
    with torch.no_grad():  # the same starting adapters whatever random init the submission chose for A
        for name, p in model.named_parameters():
            if name.endswith("lora_A"):
                p.copy_(_randn(len(name), *p.shape) / 3)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    targets = torch.tensor([[4, 2, 9, 0], [3, 3, 7, 1]])
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(TOKENS).flatten(0, 1), targets.flatten()).backward()
        optimizer.step()
    observe("model output after 5 Adam steps on the adapters", model(TOKENS),
            explain="training the adapters alone, with the forward base(x) + (alpha / r) x A^T B^T in every "
                    "wrapped layer")


# --- lora_state_dict --------------------------------------------------------------------------------------

@pytest.mark.task("lora_state_dict")
def test_lora_state_dict_keys(impl) -> None:
    model = impl.apply_lora(_tiny(25), ["v_proj"], 2, 4.0)
    observe("keys of lora_state_dict(model) after apply_lora(model, ['v_proj'])",
            sorted(impl.lora_state_dict(model)),
            expect=["layers.0.v_proj.lora_A", "layers.0.v_proj.lora_B", "layers.1.v_proj.lora_A",
                    "layers.1.v_proj.lora_B"],
            explain="only the adapters, under their full state_dict names: no base weights, no other layers")


@pytest.mark.task("lora_state_dict")
def test_lora_state_dict_restores_a_fine_tune(impl) -> None:
    trained = impl.apply_lora(_tiny(26), ["q_proj", "v_proj"], 2, 4.0)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if p.requires_grad:
                p.copy_(_randn(len(name), *p.shape))
    adapters = {name: value.clone() for name, value in impl.lora_state_dict(trained).items()}
    fresh = impl.apply_lora(_tiny(26), ["q_proj", "v_proj"], 2, 4.0)
    fresh.load_state_dict(adapters, strict=False)
    observe("output of a fresh model with adapters loaded from lora_state_dict minus the trained model's",
            fresh(TOKENS) - trained(TOKENS), expect=torch.zeros(2, 4, 10, dtype=f64),
            explain="the adapter weights are all a fine-tune needs: loaded into the same base model with the "
                    "same adapters applied, they give the same outputs")
    observe("values of lora_state_dict(trained)", adapters,
            explain="each adapter's current lora_A or lora_B")
