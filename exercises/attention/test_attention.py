"""Grading tests for the attention exercise, in float64 so every mistake shows. The reference matches
PyTorch's own attention (F.scaled_dot_product_attention, nn.MultiheadAttention); the MultiHeadAttention tests
copy an nn.MultiheadAttention's weights into the layer under test."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64

SDPA = ("softmax over the key axis (the last one) of q @ k^T / sqrt(E), with E = q.size(-1) (not v's width), "
        "then @ v")


class CalledTorchSDPA(Exception):
    """Raised by the stand-in for PyTorch's SDPA in test_sdpa_is_written_by_hand."""


def _qkv(seed: int, lead: tuple[int, ...], L: int, S: int, E: int, Ev: int,
         dtype: torch.dtype = f64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, L, E, generator=gen, dtype=dtype),
            torch.randn(*lead, S, E, generator=gen, dtype=dtype),
            torch.randn(*lead, S, Ev, generator=gen, dtype=dtype))


def _bool_mask(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    # Random True/False with at least one True per row, so no row is fully blocked (tested on its own).
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.5
    mask[..., 0] = True
    return mask


def _shapes(q, k, v) -> str:
    return f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"


# (leading dims, L, S, E, Ev): no batch dims, one, two; L == S and L != S; Ev != E so the scale is telling.
SHAPES = [((), 3, 5, 4, 2), ((2,), 4, 4, 8, 3), ((2, 3), 5, 3, 6, 6), ((1, 1), 1, 1, 1, 1),
          ((3,), 6, 9, 16, 5)]
SHAPE_IDS = ["L3-S5", "B2-L4-S4", "B2-H3-L5-S3", "all-ones", "B3-L6-S9"]


# --- scaled_dot_product_attention --------------------------------------------------------------------------

@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_weights_sum_to_one_over_keys(impl) -> None:
    q, k, _ = _qkv(40, (2,), 3, 5, 4, 3)
    v = torch.ones(2, 5, 3, dtype=f64)
    observe(f"scaled_dot_product_attention with v all ones for {_shapes(q, k, v)}",
            impl.scaled_dot_product_attention(q, k, v), expect=torch.ones(2, 3, 3, dtype=f64),
            explain="each query's weights are a softmax over the keys (the last axis of the (..., L, S) scores), "
                    "so they sum to 1 and, with every value equal to 1, every output is 1 whatever the scale")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_worked_example(impl) -> None:
    q = torch.tensor([[2.0, 0.0, 0.0, 0.0]], dtype=f64)
    k = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=f64)
    v = torch.tensor([[1.0], [0.0]], dtype=f64)
    weight = math.e / (math.e + 1)
    observe("scaled_dot_product_attention(q=[[2, 0, 0, 0]], k=[[1, 0, 0, 0], [0, 0, 0, 0]], v=[[1], [0]])",
            impl.scaled_dot_product_attention(q, k, v), expect=torch.tensor([[weight]], dtype=f64),
            explain="the scores q @ k^T = [2, 0] are divided by sqrt(E) = sqrt(4) = 2 (E = q.size(-1)), giving "
                    "[1, 0]; the softmax over the keys gives [e/(1+e), 1/(1+e)], so the output is e/(1+e) = 0.731")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_without_mask(impl, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(0, lead, L, S, E, Ev)
    observe(f"attention output without a mask for {_shapes(q, k, v)}", impl.scaled_dot_product_attention(q, k, v),
            explain=f"what F.scaled_dot_product_attention returns: {SDPA}")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_float32(impl) -> None:
    q, k, v = _qkv(1, (2, 2), 7, 5, 8, 4, dtype=torch.float32)
    observe(f"float32 attention output for {_shapes(q, k, v)}", impl.scaled_dot_product_attention(q, k, v),
            rtol=1e-4, atol=1e-5, explain=f"float32 inputs give a float32 output: {SDPA}")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_bool_mask(impl, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(2, lead, L, S, E, Ev)
    for mask_shape in [(L, S), (*lead, L, S)]:
        mask = _bool_mask(3, mask_shape)
        observe(f"attention output for {_shapes(q, k, v)} with a bool attn_mask of shape {mask_shape}",
                impl.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                explain="in SDPA a True mask entry means 'may attend' and False blocks the key (its score is -inf "
                        "before the softmax); the mask broadcasts over the leading dims")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_float_mask(impl, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(4, lead, L, S, E, Ev)
    gen = torch.Generator().manual_seed(5)
    mask = torch.randn(L, S, generator=gen, dtype=f64) * 2
    mask[_bool_mask(6, (L, S)).logical_not()] = float("-inf")
    observe(f"attention output for {_shapes(q, k, v)} with a float attn_mask of shape {(L, S)}",
            impl.scaled_dot_product_attention(q, k, v, attn_mask=mask),
            explain="a float mask is added to the scaled scores (after dividing by sqrt(E), before the softmax)")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("L,S", [(5, 5), (3, 6), (6, 3), (1, 4), (4, 1)])
def test_sdpa_causal(impl, L: int, S: int) -> None:
    q, k, v = _qkv(7, (2, 2), L, S, 4, 3)
    observe(f"attention output with is_causal=True for L={L} queries and S={S} keys",
            impl.scaled_dot_product_attention(q, k, v, is_causal=True),
            explain="query i may attend to keys 0..i (its own position included): the allowed pairs are "
                    "torch.ones(L, S).tril(), aligned to the top-left corner even when L != S")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_blocked_row_gives_zeros(impl, kind: str) -> None:
    q, k, v = _qkv(8, (2,), 4, 5, 4, 3)
    allowed = _bool_mask(9, (4, 5))
    allowed[2] = False
    mask = allowed if kind == "bool" else torch.zeros(4, 5, dtype=f64).masked_fill(~allowed, float("-inf"))
    got = impl.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    observe(f"output row of query 2, whose {kind} attn_mask row blocks every key",
            got[:, 2] if isinstance(got, torch.Tensor) and got.dim() == 3 else got,
            expect=torch.zeros(2, 3, dtype=f64),
            explain="a query that may attend to no key gives zeros, not NaN (the softmax of a row of all -inf is "
                    "0/0): detect such rows and set their weights to 0, as PyTorch's SDPA does")
    observe(f"attention output for {_shapes(q, k, v)} with query 2 fully blocked by a {kind} attn_mask", got,
            explain="the fully blocked query's row is 0 and the other rows are as without that row blocked")


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "blocked_row_bool",
                                  "blocked_row_float"])
def test_sdpa_gradients(impl, case: str) -> None:
    q, k, v = _qkv(10, (2, 2), 4, 6, 4, 3)
    kwargs: dict = {}
    if case == "bool_mask":
        kwargs["attn_mask"] = _bool_mask(11, (4, 6))
    elif case == "float_mask":
        kwargs["attn_mask"] = torch.randn(4, 6, generator=torch.Generator().manual_seed(12), dtype=f64)
    elif case == "causal":
        kwargs["is_causal"] = True
    elif case.startswith("blocked_row"):
        allowed = _bool_mask(13, (4, 6))
        allowed[1] = False
        kwargs["attn_mask"] = allowed if case.endswith("bool") else (
            torch.zeros(4, 6, dtype=f64).masked_fill(~allowed, float("-inf")))
    upstream = torch.randn(2, 2, 4, 3, generator=torch.Generator().manual_seed(14), dtype=f64)
    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    (impl.scaled_dot_product_attention(*inputs, **kwargs) * upstream).sum().backward()
    blocked = " (query 1 blocked: its gradient is zero, never NaN)" if case.startswith("blocked_row") else ""
    for name, tensor in zip("qkv", inputs, strict=True):
        observe(f"gradient with respect to {name} ({case})", tensor.grad,
                explain=f"the gradients F.scaled_dot_product_attention gives for the same inputs and upstream "
                        f"gradient{blocked}")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_does_not_modify_inputs(impl) -> None:
    q, k, v = _qkv(15, (2,), 3, 4, 4, 2)
    mask = _bool_mask(16, (3, 4))
    impl.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    for name, tensor in (("q", q), ("k", k), ("v", v), ("attn_mask", mask)):
        observe(f"{name} after the call", tensor, exact=True,
                explain="scaled_dot_product_attention must not modify q, k, v or attn_mask")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_is_written_by_hand(impl, monkeypatch: pytest.MonkeyPatch) -> None:
    q, k, v = _qkv(17, (2,), 3, 4, 4, 2)
    original = F.scaled_dot_product_attention

    def forbidden(*args, **kwargs):
        raise CalledTorchSDPA("scaled_dot_product_attention must be written by hand, without calling "
                              "torch.nn.functional.scaled_dot_product_attention")

    monkeypatch.setattr(F, "scaled_dot_product_attention", forbidden)
    monkeypatch.setattr(torch._C._nn, "scaled_dot_product_attention", forbidden)
    for name, value in list(vars(impl).items()):
        if value is original:  # `from torch.nn.functional import scaled_dot_product_attention as ...`
            monkeypatch.setattr(impl, name, forbidden)
    observe("causal attention output with PyTorch's SDPA unavailable",
            impl.scaled_dot_product_attention(q, k, v, is_causal=True),
            explain="written by hand, the result does not need torch.nn.functional.scaled_dot_product_attention")


# --- MultiHeadAttention ------------------------------------------------------------------------------------

MHA = ("q = q_proj(query), k = k_proj(key), v = v_proj(value); split each into heads with view(B, T, H, head_dim)"
       ".transpose(1, 2); attend per head with scale 1/sqrt(head_dim); transpose back, reshape to (B, L, E), then "
       "out_proj: the same as nn.MultiheadAttention (the output is a tensor, not a tuple)")


def _layer(impl, E: int, H: int, bias: bool, seed: int, **overrides: torch.Tensor) -> nn.Module:
    """The layer under test in float64, holding the weights of an nn.MultiheadAttention drawn from ``seed``
    (``overrides``: state_dict entries to load instead, e.g. ``out_proj_weight`` for "out_proj.weight")."""
    torch.manual_seed(seed)
    torch_mha = nn.MultiheadAttention(E, H, bias=bias, batch_first=True, dtype=f64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in torch_mha.parameters():
            # Random biases too (PyTorch starts them at zero, which would hide a missing bias).
            p.copy_(torch.randn(p.shape, generator=gen, dtype=f64) / E**0.5)
    layer = impl.MultiHeadAttention(E, H, bias=bias).to(f64)
    w_q, w_k, w_v = torch_mha.in_proj_weight.detach().chunk(3)
    state = {"q_proj.weight": w_q, "k_proj.weight": w_k, "v_proj.weight": w_v,
             "out_proj.weight": torch_mha.out_proj.weight.detach()}
    if bias:
        b_q, b_k, b_v = torch_mha.in_proj_bias.detach().chunk(3)
        state |= {"q_proj.bias": b_q, "k_proj.bias": b_k, "v_proj.bias": b_v,
                  "out_proj.bias": torch_mha.out_proj.bias.detach()}
    state |= {name.replace("_weight", ".weight").replace("_bias", ".bias"): value for name, value in overrides.items()}
    layer.load_state_dict(state)  # test_mha_layers_and_state_dict says which names or shapes are wrong
    return layer


def _inputs(seed: int, B: int, L: int, S: int, E: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, n, E, generator=gen, dtype=f64) for n in (L, S, S))


def _padding(seed: int, B: int, S: int) -> torch.Tensor:
    # True = padding at the end of each sequence, with at least one real key per row.
    lengths = torch.randint(1, S + 1, (B,), generator=torch.Generator().manual_seed(seed))
    lengths[0] = max(1, S - 2)
    return torch.arange(S)[None, :] >= lengths[:, None]


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_mha_layers_and_state_dict(impl, bias: bool) -> None:
    layer = impl.MultiHeadAttention(12, 3, bias=bias)
    observe("MultiHeadAttention is an nn.Module", isinstance(layer, nn.Module), expect=True,
            explain="MultiHeadAttention must subclass nn.Module")
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        observe(f"layer.{name} is an nn.Linear", isinstance(getattr(layer, name, None), nn.Linear), expect=True,
                explain=f"layer.{name} = nn.Linear(embed_dim, embed_dim, bias=bias)")
    observe(f"state_dict key shapes of MultiHeadAttention(12, 3, bias={bias})",
            {key: tuple(value.shape) for key, value in layer.state_dict().items()},
            explain="exactly q_proj, k_proj, v_proj and out_proj, each nn.Linear(embed_dim, embed_dim, bias=bias): "
                    "weights (embed_dim, embed_dim), biases only when bias=True, no other parameters or buffers")
    observe("(embed_dim, num_heads, head_dim) of MultiHeadAttention(12, 3)",
            tuple(getattr(layer, name, None) for name in ("embed_dim", "num_heads", "head_dim")),
            expect=(12, 3, 4), explain="head_dim = embed_dim // num_heads")


@pytest.mark.task("MultiHeadAttention")
def test_mha_rejects_indivisible_heads(impl) -> None:
    with expect_raises("MultiHeadAttention(10, 3)", ValueError,
                       explain="__init__ raises ValueError when embed_dim is not divisible by num_heads"):
        impl.MultiHeadAttention(10, 3)


@pytest.mark.task("MultiHeadAttention")
def test_mha_ends_with_out_proj(impl) -> None:
    bias = torch.randn(8, generator=torch.Generator().manual_seed(35), dtype=f64)
    layer = _layer(impl, 8, 2, True, seed=36, out_proj_weight=torch.zeros(8, 8, dtype=f64), out_proj_bias=bias)
    query, key, value = _inputs(37, 2, 5, 5, 8)
    observe("MultiHeadAttention(8, 2) output when out_proj.weight is all zeros", layer(query, key, value),
            expect=bias.expand(2, 5, 8),
            explain="the layer's last step is out_proj: with out_proj.weight zero, every output row is out_proj.bias")


@pytest.mark.task("MultiHeadAttention")
def test_mha_values_come_from_v_proj(impl) -> None:
    out_bias = torch.randn(8, generator=torch.Generator().manual_seed(44), dtype=f64)
    layer = _layer(impl, 8, 2, True, seed=38, v_proj_weight=torch.zeros(8, 8, dtype=f64),
                   v_proj_bias=torch.zeros(8, dtype=f64), out_proj_bias=out_bias)
    x, _, _ = _inputs(39, 2, 5, 5, 8)
    observe("MultiHeadAttention(8, 2) self-attention output when v_proj.weight and v_proj.bias are zeros",
            layer(x, x, x), expect=out_bias.expand(2, 5, 8),
            explain="v = v_proj(value): with v_proj zeroed every value vector is 0, so every head's attention output "
                    "is 0 and each output row is out_proj(0) = out_proj.bias")


@pytest.mark.task("MultiHeadAttention")
def test_mha_uniform_attention_keeps_head_features(impl) -> None:
    layer = _layer(impl, 8, 2, True, seed=41, q_proj_weight=torch.zeros(8, 8, dtype=f64),
                   q_proj_bias=torch.zeros(8, dtype=f64))
    query, key, value = _inputs(42, 2, 5, 5, 8)
    observe("MultiHeadAttention(8, 2) output when q_proj is zeroed (every score 0: each head averages its values "
            "uniformly)", layer(query, key, value),
            explain="with uniform weights, every query's row is out_proj(mean of v_proj(value) over the keys): "
                    "splitting into heads (view(B, T, H, head_dim).transpose(1, 2)) and merging them back "
                    "(transpose(1, 2).reshape(B, L, E)) must keep every feature of every position in place")


@pytest.mark.task("MultiHeadAttention")
def test_mha_head_scale_worked_example(impl) -> None:
    eye, zero = torch.eye(8, dtype=f64), torch.zeros(8, dtype=f64)
    identity = {f"{name}_{kind}": value for name in ("q_proj", "k_proj", "v_proj", "out_proj")
                for kind, value in (("weight", eye), ("bias", zero))}
    layer = _layer(impl, 8, 2, True, seed=43, **identity)
    query = torch.tensor([[[2.0, 0, 0, 0, 0, 0, 0, 4]]], dtype=f64)
    key = torch.tensor([[[1.0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0]]], dtype=f64)
    value = torch.tensor([[[1.0, 0, 0, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0, 1, 0]]], dtype=f64)
    w0, w1 = math.e / (1 + math.e), math.e**2 / (1 + math.e**2)
    observe("head scaling, worked by hand: MultiHeadAttention(8, 2) (head_dim 4) with identity projections, "
            "query [2, 0, 0, 0, 0, 0, 0, 4], keys [1, 0, 0, 0, 0, 0, 0, 1] and 0", layer(query, key, value),
            expect=torch.tensor([[[w0, 1 - w0, 0, 0, 0, 0, 1 - w1, w1]]], dtype=f64),
            explain="each head attends over its own head_dim = 4 features and divides its scores by sqrt(head_dim) "
                    "= 2: head 0's scores [2, 0] / 2 = [1, 0] give weights [0.731, 0.269], head 1's [4, 0] / 2 = "
                    "[2, 0] give [0.881, 0.119], so the output is [0.731, 0.269, 0, 0, 0, 0, 0.119, 0.881]")


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("B,L,E,H,bias", [(2, 5, 8, 2, True), (1, 1, 4, 1, True), (3, 4, 12, 4, False),
                                          (2, 7, 6, 3, True)],
                         ids=["B2-L5-E8-H2", "B1-L1-E4-H1", "B3-L4-E12-H4-no_bias", "B2-L7-E6-H3"])
def test_mha_self_attention(impl, B: int, L: int, E: int, H: int, bias: bool) -> None:
    layer = _layer(impl, E, H, bias, seed=B * L + E)
    x, _, _ = _inputs(20, B, L, L, E)
    observe(f"self-attention output (B={B}, L={L}, embed_dim={E}, num_heads={H}, bias={bias})", layer(x, x, x),
            explain=MHA)


@pytest.mark.task("MultiHeadAttention")
def test_mha_cross_attention(impl) -> None:
    layer = _layer(impl, 8, 4, True, seed=21)
    query, key, value = _inputs(22, 2, 3, 6, 8)
    observe("cross-attention output (3 queries, 6 keys, key and value different tensors)",
            layer(query, key, value),
            explain="q from query with q_proj, k from key with k_proj, v from value with v_proj; " + MHA)


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("L,S", [(5, 5), (3, 6)])
def test_mha_key_padding_mask(impl, L: int, S: int) -> None:
    layer = _layer(impl, 8, 2, True, seed=23)
    query, key, value = _inputs(24, 3, L, S, 8)
    padding = _padding(25, 3, S)
    observe(f"output with a key_padding_mask (B=3, L={L}, S={S})", layer(query, key, value, key_padding_mask=padding),
            explain="in key_padding_mask True marks a padding key that no query may attend to (the opposite of "
                    "SDPA's bool attn_mask, where True means 'may attend'); the (B, S) mask broadcasts over heads "
                    "and queries as (B, 1, 1, S)")


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("L,S", [(5, 5), (4, 6), (6, 4)])
def test_mha_causal(impl, L: int, S: int) -> None:
    layer = _layer(impl, 8, 2, True, seed=26)
    query, key, value = _inputs(27, 2, L, S, 8)
    observe(f"output with is_causal=True (L={L}, S={S})", layer(query, key, value, is_causal=True),
            explain="query i attends only to keys 0..i (top-left aligned), in every head")


@pytest.mark.task("MultiHeadAttention")
def test_mha_causal_with_padding(impl) -> None:
    layer = _layer(impl, 12, 3, True, seed=28)
    x, _, _ = _inputs(29, 3, 6, 6, 12)
    padding = _padding(30, 3, 6)
    observe("self-attention output with both key_padding_mask and is_causal=True",
            layer(x, x, x, key_padding_mask=padding, is_causal=True),
            explain="with both, a key takes part only if it is not padding and not in the future")


@pytest.mark.task("MultiHeadAttention")
def test_mha_gradients(impl) -> None:
    layer = _layer(impl, 8, 2, True, seed=31)
    query, key, value = _inputs(32, 2, 4, 5, 8)
    padding = _padding(33, 2, 5)
    upstream = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(34), dtype=f64)
    inputs = [t.clone().requires_grad_() for t in (query, key, value)]
    (layer(*inputs, key_padding_mask=padding) * upstream).sum().backward()
    for name, tensor in zip(("query", "key", "value"), inputs, strict=True):
        observe(f"gradient with respect to {name} (with a key_padding_mask)", tensor.grad,
                explain="the gradients nn.MultiheadAttention gives for the same weights, inputs and upstream gradient")
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        observe(f"gradient of {name}.weight", getattr(layer, name).weight.grad,
                explain="every projection's weight receives nn.MultiheadAttention's gradient for it")
