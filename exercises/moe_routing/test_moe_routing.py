"""Grading tests for the moe_routing exercise, on the CPU.

route is checked on hand-worked examples (the softmax gate, the renormalisation, ties, the capacity rule and
what a dropped choice weighs), then exactly (indices and kept mask) and with float tolerances (weights,
gradients) against the reference on many seeds, in float32 and float64. Random router logits have no ties
(they are drawn from a continuous distribution); ties are tested on their own, with hand-made logits.
load_balancing_loss is compared with hand-worked values and the reference's gradient; moe_forward with a
hand-worked combination, the rows each expert is called with (a spy), and the reference's values and
gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]
CAPACITY = ("expert e keeps the first `capacity` tokens that chose it, in token order, whichever of their k "
            "choices it was; a dropped choice weighs 0 and the other weights are not renormalised again")


def _randn(seed: int, *shape: int, dtype=f64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _worked_logits(dtype=f64) -> torch.Tensor:
    # Every row is a permutation of (2, 1, 0): the top-2 weights are e/(e+1) and 1/(e+1) in every row.
    # k = 2 choices: token 0 -> (0, 1), token 1 -> (1, 2), token 2 -> (1, 0), token 3 -> (2, 1).
    return torch.tensor([[2., 1., 0.], [0., 2., 1.], [1., 2., 0.], [0., 1., 2.]], dtype=dtype)


W1, W2 = math.e / (math.e + 1), 1 / (math.e + 1)


# --- route ------------------------------------------------------------------------------------------------

@pytest.mark.task("route")
def test_route_k_equals_experts_is_the_sorted_softmax(impl) -> None:
    logits = _randn(1, 5, 4)
    indices, weights, kept = impl.route(logits, 4, 5)
    gates = logits.softmax(dim=-1).sort(dim=-1, descending=True, stable=True)
    observe("route with k = experts = 4 and no capacity limit: the weights", weights, expect=gates.values,
            explain="the gate is the softmax over the experts of each token (dim -1, a row of router_logits); "
                    "with k = experts the renormalised weights are the gate probabilities themselves")
    observe("route with k = experts = 4 and no capacity limit: the expert indices", indices,
            expect=gates.indices, explain="each token's experts in descending gate order")


@pytest.mark.task("route")
def test_route_weights_renormalised_over_k(impl) -> None:
    logits = _randn(2, 6, 5)
    _, weights, _ = impl.route(logits, 2, 6)
    top = logits.softmax(dim=-1).sort(dim=-1, descending=True, stable=True).values[:, :2]
    observe("route with k = 2 of 5 experts, nothing dropped: the weights", weights,
            expect=top / top.sum(dim=-1, keepdim=True),
            explain="the two chosen gate probabilities renormalised to sum to 1 over the k chosen experts")


@pytest.mark.task("route")
def test_route_ties_go_to_the_lower_expert(impl) -> None:
    logits = torch.tensor([[0., 0., 0., 0.], [1., 2., 2., 0.], [3., 3., 1., 3.]], dtype=f64)
    indices, weights, _ = impl.route(logits, 2, 3)
    observe("route(k=2) expert indices for tied logits [[0, 0, 0, 0], [1, 2, 2, 0], [3, 3, 1, 3]]", indices,
            expect=torch.tensor([[0, 1], [1, 2], [0, 1]]),
            explain="equal gates go to the lower expert index first (a stable descending sort; torch.topk "
                    "does not promise any order among ties)")
    observe("route(k=2) weights for the tied logits", weights, expect=torch.full((3, 2), 0.5, dtype=f64),
            explain="two equal chosen gates renormalise to 1/2 each")
    wide = torch.zeros(2, 20, dtype=f64)
    wide[1, ::2] = 1.0  # row 1: experts 0, 2, 4, ... tied at the top
    indices, _, _ = impl.route(wide, 3, 2)
    observe("route(k=3) expert indices for 20 experts, row 0 all tied, row 1 tied on the even experts", indices,
            expect=torch.tensor([[0, 1, 2], [0, 2, 4]]),
            explain="equal gates go to the lower expert index first, in rows of any length: sort with "
                    "stable=True (an unstable sort or torch.topk may put tied experts in any order)")


@pytest.mark.task("route")
def test_route_capacity_keeps_at_most_capacity_tokens(impl) -> None:
    logits = _worked_logits()
    indices, _, kept = impl.route(logits, 2, 2)
    per_expert = [int(kept[indices == e].sum()) for e in range(3)] if kept.shape == indices.shape else None
    observe("number of tokens each expert keeps with capacity 2 (experts chosen by 2, 4 and 2 tokens)",
            per_expert, expect=[2, 2, 2],
            explain="an expert keeps min(capacity, the number of tokens that chose it): at most `capacity`, "
                    "never capacity + 1")


@pytest.mark.task("route")
def test_route_capacity_slots_in_token_order(impl) -> None:
    _, _, kept = impl.route(_worked_logits(), 2, 2)
    observe("kept mask with capacity 2; choices: token 0 -> (0, 1), 1 -> (1, 2), 2 -> (1, 0), 3 -> (2, 1)", kept,
            expect=torch.tensor([[True, True], [True, True], [False, True], [True, False]]),
            explain="expert 1 is chosen by tokens 0 (second choice), 1, 2 and 3: its two slots go to tokens 0 and "
                    "1, in token order, whichever choice it was (token 0's second choice beats token 2's first); "
                    + CAPACITY)


@pytest.mark.task("route")
def test_route_dropped_weight_is_zero_and_not_renormalised(impl) -> None:
    _, weights, _ = impl.route(_worked_logits(), 2, 2)
    observe("weights with capacity 2 (token 2 dropped for its first expert, token 3 for its second)", weights,
            expect=torch.tensor([[W1, W2], [W1, W2], [0., W2], [W1, 0.]], dtype=f64),
            explain="a dropped choice weighs 0 and the token's other weight stays as it was, "
                    "1/(e+1) and e/(e+1) here, not renormalised again to 1")


@pytest.mark.task("route")
def test_route_capacity_zero_drops_everything(impl) -> None:
    indices, weights, kept = impl.route(_randn(3, 6, 4), 2, 0)
    observe("kept mask with capacity 0", kept, expect=torch.zeros(6, 2, dtype=torch.bool),
            explain="capacity 0: no expert keeps any token")
    observe("weights with capacity 0", weights, expect=torch.zeros(6, 2, dtype=f64),
            explain="every choice is dropped, so every weight is 0")
    observe("expert indices with capacity 0", indices,
            explain="the indices are each token's k best experts whatever the capacity")


@pytest.mark.task("route")
@pytest.mark.parametrize("capacity", [7, 100])
def test_route_capacity_at_least_tokens_drops_nothing(impl, capacity: int) -> None:
    logits = _randn(4, 7, 3)
    _, weights, kept = impl.route(logits, 2, capacity)
    top = logits.softmax(dim=-1).sort(dim=-1, descending=True, stable=True).values[:, :2]
    observe(f"kept mask with 7 tokens and capacity {capacity}", kept, expect=torch.ones(7, 2, dtype=torch.bool),
            explain="capacity >= tokens: no expert can be chosen by more tokens than it holds")
    observe(f"weights with 7 tokens and capacity {capacity}", weights, expect=top / top.sum(-1, keepdim=True),
            explain="nothing dropped: the chosen gates renormalised over k")


@pytest.mark.task("route")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("tokens,experts,k,capacity", [(16, 4, 1, 3), (16, 4, 2, 6), (32, 8, 2, 5), (24, 6, 3, 10),
                                                       (9, 5, 5, 4)],
                         ids=["T16-E4-k1-c3", "T16-E4-k2-c6", "T32-E8-k2-c5", "T24-E6-k3-c10", "T9-E5-k5-c4"])
def test_route_matches_reference(impl, dtype, tokens: int, experts: int, k: int, capacity: int) -> None:
    for seed in range(10, 15):
        logits = _randn(seed, tokens, experts, dtype=dtype)
        indices, weights, kept = impl.route(logits, k, capacity)
        where = f"(T={tokens}, E={experts}, k={k}, capacity={capacity}, seed {seed}, {dtype})"
        observe(f"route expert indices {where}", indices, exact=True,
                explain="each token's k experts in descending gate order")
        observe(f"route kept mask {where}", kept, exact=True, explain=CAPACITY)
        observe(f"route weights {where}", weights,
                explain="the chosen gates renormalised over k, then 0 where dropped: " + CAPACITY)
        observe(f"router_logits after route {where}", logits, expect=_randn(seed, tokens, experts, dtype=dtype),
                explain="route does not modify its input")


@pytest.mark.task("route")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_route_gradient_reaches_the_router_logits(impl, dtype) -> None:
    logits = _randn(20, 12, 5, dtype=dtype).requires_grad_()
    coefficients = _randn(21, 12, 2, dtype=dtype)
    _, weights, _ = impl.route(logits, 2, 4)
    observe("weights.requires_grad when router_logits requires grad", weights.requires_grad, expect=True,
            explain="the weights stay in the autograd graph of router_logits (no .detach(), no torch.no_grad(), "
                    "no .item()): the router learns through them")
    if weights.requires_grad:
        (weights * coefficients).sum().backward()
    observe(f"router_logits.grad after backward of (weights * c).sum() (12 tokens, 5 experts, k=2, capacity 4, "
            f"{dtype})", logits.grad,
            explain="the gradient flows through the renormalised softmax of the chosen experts; a dropped choice "
                    "contributes nothing")


@pytest.mark.task("route")
@pytest.mark.parametrize("k,capacity,shape", [(0, 2, (4, 3)), (4, 2, (4, 3)), (1, -1, (4, 3)), (1, 2, (4,))],
                         ids=["k0", "k-above-experts", "negative-capacity", "1-d-logits"])
def test_route_rejects_bad_arguments(impl, k: int, capacity: int, shape) -> None:
    with expect_raises(f"route on logits of shape {shape} with k={k}, capacity={capacity}", ValueError,
                       explain="ValueError when router_logits is not 2-D, k is outside 1..experts or capacity < 0"):
        impl.route(torch.zeros(shape), k, capacity)


# --- load_balancing_loss ------------------------------------------------------------------------------------

@pytest.mark.task("load_balancing_loss")
def test_loss_balanced_router_gives_one(impl) -> None:
    loss = impl.load_balancing_loss(torch.zeros(4, 4, dtype=f64), torch.tensor([[0], [1], [2], [3]]))
    observe("load_balancing_loss with uniform gates and one token per expert (4 experts, k=1)", loss,
            expect=torch.tensor(1.0, dtype=f64),
            explain="num_experts * sum_e f_e * P_e = 4 * 4 * (1/4 * 1/4) = 1: the factor num_experts makes a "
                    "balanced router give 1")


@pytest.mark.task("load_balancing_loss")
def test_loss_with_k_two_divides_by_tokens_times_k(impl) -> None:
    indices = torch.tensor([[0, 1], [0, 1], [0, 2]])
    loss = impl.load_balancing_loss(torch.zeros(3, 3, dtype=f64), indices)
    observe("load_balancing_loss, uniform gates, 3 tokens with k=2 choices (0, 1), (0, 1), (0, 2)", loss,
            expect=torch.tensor(1.0, dtype=f64),
            explain="f_e counts all T * k = 6 choices: f = (3/6, 2/6, 1/6), P = 1/3 each, "
                    "3 * (1/2 + 1/3 + 1/6) / 3 = 1")


@pytest.mark.task("load_balancing_loss")
def test_loss_uses_the_full_softmax_mean(impl) -> None:
    logits = torch.tensor([[math.log(4), 0., 0.], [0., math.log(4), 0.]], dtype=f64)  # gates (2/3, 1/6, 1/6)
    loss = impl.load_balancing_loss(logits, torch.tensor([[0], [0]]))
    observe("load_balancing_loss, 2 tokens both routed to expert 0, gates (2/3, 1/6, 1/6) and (1/6, 2/3, 1/6)",
            loss, expect=torch.tensor(1.25, dtype=f64),
            explain="f = (1, 0, 0), P_0 = mean over tokens of the softmax gate of expert 0 = (2/3 + 1/6) / 2 = "
                    "5/12: loss = 3 * 1 * 5/12 = 1.25")


@pytest.mark.task("load_balancing_loss")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("tokens,experts,k", [(16, 4, 1), (20, 6, 2), (9, 8, 3)],
                         ids=["T16-E4-k1", "T20-E6-k2", "T9-E8-k3"])
def test_loss_value_and_gradient_match_reference(impl, dtype, tokens: int, experts: int, k: int) -> None:
    logits = _randn(30 + k, tokens, experts, dtype=dtype).requires_grad_()
    indices = logits.detach().sort(dim=-1, descending=True, stable=True).indices[:, :k]
    loss = impl.load_balancing_loss(logits, indices)
    where = f"(T={tokens}, E={experts}, k={k}, {dtype})"
    observe(f"load_balancing_loss {where}", loss, explain="num_experts * sum_e f_e * P_e, f_e over all T * k "
                                                           "choices, P_e the mean full-softmax gate")
    if loss.requires_grad:
        loss.backward()
    observe(f"router_logits.grad after load_balancing_loss.backward() {where}", logits.grad,
            explain="the gradient flows through P_e (the mean softmax gate) only; f_e is a count")


@pytest.mark.task("load_balancing_loss")
@pytest.mark.parametrize("logits_shape,indices_shape", [((4, 3), (3, 1)), ((4, 3), (4,)), ((4,), (4, 1))],
                         ids=["different-T", "1-d-indices", "1-d-logits"])
def test_loss_rejects_bad_shapes(impl, logits_shape, indices_shape) -> None:
    logits, indices = torch.zeros(logits_shape), torch.zeros(indices_shape, dtype=torch.long)
    with expect_raises(f"load_balancing_loss with router_logits of shape {logits_shape} and expert_indices of shape "
                       f"{indices_shape}", ValueError,
                       explain="ValueError unless router_logits is (T, E) and expert_indices (T, k) with the same T"):
        impl.load_balancing_loss(logits, indices)


# --- moe_forward --------------------------------------------------------------------------------------------

class Scale(nn.Module):
    """An expert that multiplies its input by a constant and records the rows it is called with."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.size(0))
        return self.factor * x


def _fixed_router(logits: torch.Tensor) -> nn.Linear:
    # A router whose logits are the given rows when x is the identity matrix.
    router = nn.Linear(logits.size(0), logits.size(1), bias=False).to(logits.dtype)
    with torch.no_grad():
        router.weight.copy_(logits.T)
    return router


@pytest.mark.task("moe_forward")
def test_forward_worked_example(impl) -> None:
    x = torch.eye(4, dtype=f64)
    experts = nn.ModuleList([Scale(1.0), Scale(10.0), Scale(100.0)])
    out = impl.moe_forward(x, _fixed_router(_worked_logits()), experts, 2, 2)
    # token 0 keeps experts 0 and 1, token 1 keeps 1 and 2, token 2 only expert 0 (second), token 3 only 2.
    scale = torch.tensor([W1 * 1 + W2 * 10, W1 * 10 + W2 * 100, W2 * 1, W1 * 100], dtype=f64)
    observe("moe_forward with experts x -> 1x, 10x, 100x, k=2, capacity 2, x = identity (4 tokens)", out,
            expect=torch.diag(scale),
            explain="out[t] = sum_j weights[t, j] * experts[indices[t, j]](x[t]) over the kept choices; a dropped "
                    "choice contributes nothing")


@pytest.mark.task("moe_forward")
def test_forward_calls_each_expert_on_its_kept_tokens(impl) -> None:
    x = torch.eye(4, dtype=f64)
    experts = nn.ModuleList([Scale(1.0), Scale(10.0), Scale(100.0)])
    impl.moe_forward(x, _fixed_router(_worked_logits()), experts, 2, 2)
    observe("rows each expert is called with (experts 0, 1, 2 keep 2, 2 and 2 of the 2, 4 and 2 tokens that "
            "chose them)", [sum(expert.calls) for expert in experts], expect=[2, 2, 2],
            explain="dispatch: each expert runs on the rows of the tokens kept for it only, never on dropped "
                    "tokens or on every token")
    observe("number of calls of experts 0, 1, 2 (each keeps 2 tokens)", [len(expert.calls) for expert in experts],
            expect=[1, 1, 1], explain="each expert is called at most once, with all its kept rows in one batched call")


@pytest.mark.task("moe_forward")
def test_forward_capacity_zero_gives_zeros(impl) -> None:
    x = _randn(40, 5, 3)
    torch.manual_seed(40)
    router, experts = nn.Linear(3, 4).to(f64), nn.ModuleList([Scale(2.0) for _ in range(4)])
    out = impl.moe_forward(x, router, experts, 2, 0)
    observe("moe_forward with capacity 0 (5 tokens, d=3)", out, expect=torch.zeros(5, 3, dtype=f64),
            explain="every choice dropped: every token gets a zero row of x's shape and dtype")
    observe("rows each expert is called with when the capacity is 0", [sum(e.calls) for e in experts],
            expect=[0, 0, 0, 0], explain="an expert that keeps no token runs on no row")


def _layer(seed: int, d: int, experts: int, dtype):
    torch.manual_seed(seed)
    router = nn.Linear(d, experts).to(dtype)
    mlp = nn.ModuleList([nn.Sequential(nn.Linear(d, 2 * d), nn.Tanh(), nn.Linear(2 * d, d)) for _ in range(experts)])
    return router, mlp.to(dtype)


def _grads(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad if p.grad is not None else torch.zeros_like(p) for n, p in module.named_parameters()}


@pytest.mark.task("moe_forward")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("tokens,experts,k,capacity", [(12, 4, 2, 5), (10, 3, 1, 2), (8, 4, 3, 8)],
                         ids=["T12-E4-k2-c5", "T10-E3-k1-c2", "T8-E4-k3-c8"])
def test_forward_values_and_gradients_match_reference(impl, dtype, tokens: int, experts: int, k: int,
                                                      capacity: int) -> None:
    router, mlp = _layer(50 + k, 6, experts, dtype)
    x = _randn(60 + k, tokens, 6, dtype=dtype).requires_grad_()
    coefficients = _randn(70 + k, tokens, 6, dtype=dtype)
    out = impl.moe_forward(x, router, mlp, k, capacity)
    where = f"(T={tokens}, E={experts}, k={k}, capacity={capacity}, {dtype})"
    observe(f"moe_forward output {where}", out,
            explain="the weighted sum of the kept experts' outputs for each token")
    if out.requires_grad:
        (out * coefficients).sum().backward()
    observe(f"x.grad after backward of (out * c).sum() {where}", x.grad,
            explain="the gradient reaches x through the experts and through the router")
    observe(f"router parameter gradients {where}", _grads(router),
            explain="the router learns through the weights: its gradient flows through route's weights")
    observe(f"expert parameter gradients {where}", _grads(mlp),
            explain="each expert's gradient comes from the tokens kept for it, scaled by their weights (an "
                    "expert that keeps no token gets none: None and zeros are both read as zeros here)")
