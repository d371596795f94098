"""Grading tests for the attention exercise: the submission against PyTorch's own attention
(F.scaled_dot_product_attention, nn.MultiheadAttention), in float64 so every mistake shows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

f64 = torch.float64


def _explain(text: str) -> Callable[[str], str]:
    # assert_close calls a callable msg with its own report (which elements differ, by how much): keep both.
    return lambda report: f"{text}\n{report}"


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


# (leading dims, L, S, E, Ev): no batch dims, one, two; L == S and L != S; Ev != E so the scale is telling.
SHAPES = [((), 3, 5, 4, 2), ((2,), 4, 4, 8, 3), ((2, 3), 5, 3, 6, 6), ((1, 1), 1, 1, 1, 1),
          ((3,), 6, 9, 16, 5)]
SHAPE_IDS = ["L3-S5", "B2-L4-S4", "B2-H3-L5-S3", "all-ones", "B3-L6-S9"]


# --- scaled_dot_product_attention --------------------------------------------------------------------------

@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_without_mask(submission, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(0, lead, L, S, E, Ev)
    got = submission.scaled_dot_product_attention(q, k, v)
    assert_close(got, F.scaled_dot_product_attention(q, k, v), msg=_explain(
        f"attention output for q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} differs from "
        "F.scaled_dot_product_attention: softmax over the key axis (the last one) of q @ k^T / sqrt(E), "
        "with E = q.size(-1) (not v's width), then @ v."))


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_float32(submission) -> None:
    q, k, v = _qkv(1, (2, 2), 7, 5, 8, 4, dtype=torch.float32)
    got = submission.scaled_dot_product_attention(q, k, v)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32, (
        "float32 inputs give a float32 output")
    assert_close(got, F.scaled_dot_product_attention(q, k, v), rtol=1e-4, atol=1e-5,
                 msg=_explain("float32 attention output differs from F.scaled_dot_product_attention."))


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_bool_mask(submission, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(2, lead, L, S, E, Ev)
    for mask_shape in [(L, S), (*lead, L, S)]:
        mask = _bool_mask(3, mask_shape)
        got = submission.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert_close(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), msg=_explain(
            f"with a bool attn_mask of shape {mask_shape} the output differs from PyTorch: in SDPA a True "
            "entry means 'may attend' and False blocks the key (set its score to -inf before the softmax)."))


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("lead,L,S,E,Ev", SHAPES, ids=SHAPE_IDS)
def test_sdpa_float_mask(submission, lead, L: int, S: int, E: int, Ev: int) -> None:
    q, k, v = _qkv(4, lead, L, S, E, Ev)
    gen = torch.Generator().manual_seed(5)
    mask = torch.randn(L, S, generator=gen, dtype=f64) * 2
    mask[_bool_mask(6, (L, S)).logical_not()] = float("-inf")
    got = submission.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert_close(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), msg=_explain(
        "with a float attn_mask the output differs from PyTorch: a float mask is added to the scaled scores "
        "(after dividing by sqrt(E), before the softmax)."))


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("L,S", [(5, 5), (3, 6), (6, 3), (1, 4), (4, 1)])
def test_sdpa_causal(submission, L: int, S: int) -> None:
    q, k, v = _qkv(7, (2, 2), L, S, 4, 3)
    got = submission.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(got, F.scaled_dot_product_attention(q, k, v, is_causal=True), msg=_explain(
        f"is_causal=True with L={L} queries and S={S} keys differs from PyTorch: query i may attend to keys "
        "0..i (its own position included), i.e. the allowed pairs are torch.ones(L, S).tril(), aligned to "
        "the top-left corner even when L != S."))


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_blocked_row_gives_zeros(submission, kind: str) -> None:
    q, k, v = _qkv(8, (2,), 4, 5, 4, 3)
    allowed = _bool_mask(9, (4, 5))
    allowed[2] = False
    mask = allowed if kind == "bool" else torch.zeros(4, 5, dtype=f64).masked_fill(~allowed, float("-inf"))
    got = submission.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert isinstance(got, torch.Tensor) and not torch.isnan(got).any(), (
        "a query whose mask row blocks every key must give zeros, not NaN: softmax of a row of all -inf is "
        "0/0. Detect such rows and set their weights to 0 (as PyTorch's SDPA does)")
    assert_close(got, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), msg=_explain(
        "the output row of a fully blocked query must be 0 and the other rows unchanged."))


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "blocked_row_bool",
                                  "blocked_row_float"])
def test_sdpa_gradients(submission, case: str) -> None:
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
    grads = []
    for fn in (submission.scaled_dot_product_attention, F.scaled_dot_product_attention):
        inputs = [t.clone().requires_grad_() for t in (q, k, v)]
        (fn(*inputs, **kwargs) * upstream).sum().backward()
        grads.append([t.grad for t in inputs])
    assert all(g is not None for g in grads[0]), "the output must stay connected to q, k and v for autograd"
    assert_close(grads[0], grads[1], msg=_explain(
        f"the gradients with respect to q, k, v ({case}) differ from PyTorch's (or contain NaN)."))


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_does_not_modify_inputs(submission) -> None:
    q, k, v = _qkv(15, (2,), 3, 4, 4, 2)
    mask = _bool_mask(16, (3, 4))
    before = [t.clone() for t in (q, k, v, mask)]
    submission.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert_close([q, k, v, mask], before,
                 msg="scaled_dot_product_attention must not modify q, k, v or attn_mask")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_is_written_by_hand(submission, monkeypatch: pytest.MonkeyPatch) -> None:
    q, k, v = _qkv(17, (2,), 3, 4, 4, 2)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    original = F.scaled_dot_product_attention

    def forbidden(*args, **kwargs):
        raise AssertionError("scaled_dot_product_attention must be written by hand, without calling "
                             "torch.nn.functional.scaled_dot_product_attention")

    monkeypatch.setattr(F, "scaled_dot_product_attention", forbidden)
    monkeypatch.setattr(torch._C._nn, "scaled_dot_product_attention", forbidden)
    for name, value in list(vars(submission).items()):
        if value is original:  # `from torch.nn.functional import scaled_dot_product_attention as ...`
            monkeypatch.setattr(submission, name, forbidden)
    got = submission.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(got, expected, msg="with PyTorch's SDPA unavailable the result should still be right")


# --- MultiHeadAttention ------------------------------------------------------------------------------------

def _pair(submission, E: int, H: int, bias: bool, seed: int) -> tuple[nn.Module, nn.MultiheadAttention]:
    """The submission's layer and nn.MultiheadAttention, float64, holding the same random weights."""
    torch_mha = nn.MultiheadAttention(E, H, bias=bias, batch_first=True, dtype=f64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in torch_mha.parameters():
            # Random biases too (PyTorch starts them at zero, which would hide a missing bias).
            p.copy_(torch.randn(p.shape, generator=gen, dtype=f64) / E**0.5)
    mine = submission.MultiHeadAttention(E, H, bias=bias).to(f64)
    w_q, w_k, w_v = torch_mha.in_proj_weight.detach().chunk(3)
    state = {"q_proj.weight": w_q, "k_proj.weight": w_k, "v_proj.weight": w_v,
             "out_proj.weight": torch_mha.out_proj.weight.detach()}
    if bias:
        b_q, b_k, b_v = torch_mha.in_proj_bias.detach().chunk(3)
        state |= {"q_proj.bias": b_q, "k_proj.bias": b_k, "v_proj.bias": b_v,
                  "out_proj.bias": torch_mha.out_proj.bias.detach()}
    try:
        mine.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        pytest.fail("could not copy nn.MultiheadAttention's weights into q_proj, k_proj, v_proj and out_proj "
                    f"(nn.Linear(embed_dim, embed_dim, bias=bias) each, no other parameters): {error}",
                    pytrace=False)
    return mine, torch_mha


def _torch_forward(torch_mha: nn.MultiheadAttention, query, key, value, key_padding_mask=None,
                   is_causal: bool = False) -> torch.Tensor:
    attn_mask = None
    if is_causal:
        # nn.MultiheadAttention's bool attn_mask means True = blocked: block everything above the diagonal.
        attn_mask = torch.ones(query.size(1), key.size(1), dtype=torch.bool).tril().logical_not()
    out, _ = torch_mha(query, key, value, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                       need_weights=False)
    return out


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
def test_mha_layers_and_state_dict(submission, bias: bool) -> None:
    layer = submission.MultiHeadAttention(12, 3, bias=bias)
    assert isinstance(layer, nn.Module), "MultiHeadAttention must subclass nn.Module"
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        linear = getattr(layer, name, None)
        assert isinstance(linear, nn.Linear), f"layer.{name} must be an nn.Linear"
        assert tuple(linear.weight.shape) == (12, 12), f"layer.{name}.weight must be (embed_dim, embed_dim)"
        assert (linear.bias is not None) == bias, f"layer.{name} must have a bias exactly when bias={bias}"
    expected = {f"{n}.{p}" for n in ("q_proj", "k_proj", "v_proj", "out_proj")
                for p in (("weight", "bias") if bias else ("weight",))}
    assert set(layer.state_dict()) == expected, (
        f"state_dict keys should be {sorted(expected)}, got {sorted(layer.state_dict())}")
    assert (layer.embed_dim, layer.num_heads, layer.head_dim) == (12, 3, 4), (
        "embed_dim, num_heads and head_dim should be 12, 3 and 4 for MultiHeadAttention(12, 3)")


@pytest.mark.task("MultiHeadAttention")
def test_mha_rejects_indivisible_heads(submission) -> None:
    with pytest.raises(ValueError):
        submission.MultiHeadAttention(10, 3)


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("B,L,E,H,bias", [(2, 5, 8, 2, True), (1, 1, 4, 1, True), (3, 4, 12, 4, False),
                                          (2, 7, 6, 3, True)])
def test_mha_self_attention(submission, B: int, L: int, E: int, H: int, bias: bool) -> None:
    mine, torch_mha = _pair(submission, E, H, bias, seed=B * L + E)
    x, _, _ = _inputs(20, B, L, L, E)
    got = mine(x, x, x)
    assert_close(got, _torch_forward(torch_mha, x, x, x), msg=_explain(
        f"self-attention (B={B}, L={L}, embed_dim={E}, num_heads={H}, bias={bias}) differs from "
        "nn.MultiheadAttention: project, split into heads with view(B, L, H, head_dim).transpose(1, 2), "
        "attend with scale 1/sqrt(head_dim), transpose back, reshape to (B, L, E), then out_proj. The "
        "output is a tensor, not a tuple."))


@pytest.mark.task("MultiHeadAttention")
def test_mha_cross_attention(submission) -> None:
    mine, torch_mha = _pair(submission, 8, 4, True, seed=21)
    query, key, value = _inputs(22, 2, 3, 6, 8)
    assert_close(mine(query, key, value), _torch_forward(torch_mha, query, key, value), msg=_explain(
        "cross-attention (3 queries, 6 keys, key and value different tensors) differs from "
        "nn.MultiheadAttention: q from query with q_proj, k from key with k_proj, v from value with v_proj."))


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("L,S", [(5, 5), (3, 6)])
def test_mha_key_padding_mask(submission, L: int, S: int) -> None:
    mine, torch_mha = _pair(submission, 8, 2, True, seed=23)
    query, key, value = _inputs(24, 3, L, S, 8)
    padding = _padding(25, 3, S)
    got = mine(query, key, value, key_padding_mask=padding)
    assert_close(got, _torch_forward(torch_mha, query, key, value, key_padding_mask=padding), msg=_explain(
        "with key_padding_mask the output differs from nn.MultiheadAttention: there True marks padding that "
        "must be ignored (the opposite of SDPA's bool attn_mask, where True means 'may attend'), and the "
        "(B, S) mask has to broadcast over heads and queries as (B, 1, 1, S)."))


@pytest.mark.task("MultiHeadAttention")
@pytest.mark.parametrize("L,S", [(5, 5), (4, 6), (6, 4)])
def test_mha_causal(submission, L: int, S: int) -> None:
    mine, torch_mha = _pair(submission, 8, 2, True, seed=26)
    query, key, value = _inputs(27, 2, L, S, 8)
    got = mine(query, key, value, is_causal=True)
    assert_close(got, _torch_forward(torch_mha, query, key, value, is_causal=True), msg=_explain(
        f"is_causal=True (L={L}, S={S}) differs from nn.MultiheadAttention with a causal mask: query i "
        "attends to keys 0..i."))


@pytest.mark.task("MultiHeadAttention")
def test_mha_causal_with_padding(submission) -> None:
    mine, torch_mha = _pair(submission, 12, 3, True, seed=28)
    x, _, _ = _inputs(29, 3, 6, 6, 12)
    padding = _padding(30, 3, 6)
    got = mine(x, x, x, key_padding_mask=padding, is_causal=True)
    expected = _torch_forward(torch_mha, x, x, x, key_padding_mask=padding, is_causal=True)
    assert_close(got, expected, msg=_explain(
        "with both key_padding_mask and is_causal=True a key takes part only if it is not padding and not "
        "in the future."))


@pytest.mark.task("MultiHeadAttention")
def test_mha_gradients(submission) -> None:
    mine, torch_mha = _pair(submission, 8, 2, True, seed=31)
    query, key, value = _inputs(32, 2, 4, 5, 8)
    padding = _padding(33, 2, 5)
    upstream = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(34), dtype=f64)
    inputs = [t.clone().requires_grad_() for t in (query, key, value)]
    (mine(*inputs, key_padding_mask=padding) * upstream).sum().backward()
    torch_inputs = [t.clone().requires_grad_() for t in (query, key, value)]
    (_torch_forward(torch_mha, *torch_inputs, key_padding_mask=padding) * upstream).sum().backward()
    assert all(t.grad is not None for t in inputs), "the output must stay connected to query, key and value"
    assert_close([t.grad for t in inputs], [t.grad for t in torch_inputs],
                 msg=_explain("the gradients with respect to query, key and value differ from PyTorch's."))
    w_q, w_k, w_v = torch_mha.in_proj_weight.grad.chunk(3)
    got = [getattr(mine, name).weight.grad for name in ("q_proj", "k_proj", "v_proj", "out_proj")]
    assert all(g is not None for g in got), "every projection's weight must receive a gradient"
    assert_close(got, [w_q, w_k, w_v, torch_mha.out_proj.weight.grad],
                 msg=_explain("the gradients of the q_proj, k_proj, v_proj and out_proj weights differ from "
                              "PyTorch's."))
