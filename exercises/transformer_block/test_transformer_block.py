"""Grading tests for the transformer_block exercise, in float64 so every mistake shows.

The expected outputs come from PyTorch itself: nn.MultiheadAttention with a causal mask for
CausalSelfAttention, and nn.TransformerEncoderLayer(norm_first=True, activation="gelu", batch_first=True)
with a causal mask for DecoderBlock, both holding the same (random) weights as the module under test.
Tests that switch a sub-layer off (zero weights) come first: each isolates one part of the block."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f32, f64 = torch.float32, torch.float64

ATTENTION = ("q, k, v = qkv(x) split in three; heads from view(B, T, H, head_dim).transpose(1, 2); scores "
             "q @ k^T / sqrt(head_dim) with query t attending to keys 0..t; softmax over the keys; weights @ v; "
             "heads merged back in order; out_proj")
BLOCK = "h = x + attn(ln_1(x)), out = h + fc2(gelu(fc1(ln_2(h)))), as nn.TransformerEncoderLayer(norm_first=True)"


def _randn(seed: int, *shape: int, dtype: torch.dtype = f64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _causal_mask(length: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(length, length, dtype=dtype).masked_fill(
        torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))


# --- CausalSelfAttention ----------------------------------------------------------------------------------

def _attention(impl, E: int, H: int, seed: int, dtype: torch.dtype = f64, **overrides: torch.Tensor):
    """(the module under test, a function giving nn.MultiheadAttention's output), the same random weights;
    ``overrides``: state_dict entries (e.g. ``qkv_weight`` for "qkv.weight") loaded into both."""
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(E, H, batch_first=True, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    state = {"qkv.weight": torch.randn(3 * E, E, generator=gen, dtype=dtype) / E**0.5,
             "qkv.bias": torch.randn(3 * E, generator=gen, dtype=dtype) / 4,
             "out_proj.weight": torch.randn(E, E, generator=gen, dtype=dtype) / E**0.5,
             "out_proj.bias": torch.randn(E, generator=gen, dtype=dtype) / 4}
    state |= {name.replace("_weight", ".weight").replace("_bias", ".bias"): value for name, value in overrides.items()}
    with torch.no_grad():
        mha.in_proj_weight.copy_(state["qkv.weight"])
        mha.in_proj_bias.copy_(state["qkv.bias"])
        mha.out_proj.weight.copy_(state["out_proj.weight"])
        mha.out_proj.bias.copy_(state["out_proj.bias"])
    module = impl.CausalSelfAttention(E, H).to(dtype)
    module.load_state_dict(state)  # test_attention_layers_and_state_dict says which names or shapes are wrong

    def expected(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return mha(x, x, x, attn_mask=_causal_mask(x.size(1), dtype), need_weights=False)[0]

    return module, expected


@pytest.mark.task("CausalSelfAttention")
def test_attention_layers_and_state_dict(impl) -> None:
    module = impl.CausalSelfAttention(12, 3)
    observe("CausalSelfAttention is an nn.Module", isinstance(module, nn.Module), expect=True,
            explain="CausalSelfAttention must subclass nn.Module")
    observe("state_dict key shapes of CausalSelfAttention(12, 3)",
            {key: tuple(value.shape) for key, value in module.state_dict().items()},
            expect={"qkv.weight": (36, 12), "qkv.bias": (36,), "out_proj.weight": (12, 12), "out_proj.bias": (12,)},
            explain="exactly qkv = nn.Linear(d_model, 3 * d_model) and out_proj = nn.Linear(d_model, d_model): no "
                    "other parameters or persistent buffers (register a causal-mask buffer with persistent=False)")
    observe("(d_model, n_heads, head_dim) of CausalSelfAttention(12, 3)",
            tuple(getattr(module, name, None) for name in ("d_model", "n_heads", "head_dim")), expect=(12, 3, 4),
            explain="head_dim = d_model // n_heads")


@pytest.mark.task("CausalSelfAttention")
def test_attention_rejects_indivisible_heads(impl) -> None:
    with expect_raises("CausalSelfAttention(10, 3)", ValueError,
                       explain="__init__ raises ValueError when d_model is not divisible by n_heads"):
        impl.CausalSelfAttention(10, 3)


@pytest.mark.task("CausalSelfAttention")
def test_attention_single_token_attends_to_itself(impl) -> None:
    module, _ = _attention(impl, 8, 2, seed=1)
    x = _randn(2, 3, 1, 8)
    v = F.linear(x, module.qkv.weight[16:], module.qkv.bias[16:]).detach()
    observe("CausalSelfAttention on a single token (T = 1)", module(x),
            expect=F.linear(v, module.out_proj.weight, module.out_proj.bias).detach(),
            explain="a token may attend to itself (the causal mask keeps the diagonal): with one token its weight "
                    "is 1, so the output is out_proj(v), never NaN")


@pytest.mark.task("CausalSelfAttention")
def test_attention_uniform_weights_average_v(impl) -> None:
    E = 8
    weight = _randn(6, 3 * E, E) / E**0.5
    weight[: 2 * E] = 0.0  # q and k rows zero: every score is 0, so each query averages the values it may see
    bias = _randn(7, 3 * E) / 4
    bias[: 2 * E] = 0.0
    module, expected = _attention(impl, E, 2, seed=8, qkv_weight=weight, qkv_bias=bias)
    x = _randn(9, 2, 1, E).expand(2, 5, E)  # the same token at every position: v is the same everywhere
    observe("CausalSelfAttention(8, 2) output when the q and k rows of qkv are zero (uniform weights) and every "
            "position holds the same token", module(x), expect=expected(x),
            explain="with every score 0 and the same v at every position, each output is out_proj(v) (v = the last "
                    "third of qkv(x)), however many keys a query sees. Splitting into heads (view(B, T, H, "
                    "head_dim).transpose(1, 2)) and merging back (transpose(1, 2).reshape(B, T, d_model)) must keep "
                    "each feature of each position in place")


@pytest.mark.task("CausalSelfAttention")
def test_attention_future_never_changes_the_past(impl) -> None:
    module, _ = _attention(impl, 8, 2, seed=3)
    x = _randn(4, 2, 6, 8)
    changed = x.clone()
    changed[:, 3:] = _randn(5, 2, 3, 8)
    before = module(x)
    observe("change of the CausalSelfAttention outputs at positions 0..2 when the tokens at positions 3..5 change",
            module(changed)[:, :3] - before[:, :3], expect=torch.zeros(2, 3, 8, dtype=f64),
            explain="causal: query t attends only to keys 0..t, so tokens after t never change the output at t "
                    "(this compares your module with itself)")


@pytest.mark.task("CausalSelfAttention")
def test_attention_head_scale(impl) -> None:
    module, expected = _attention(impl, 16, 4, seed=10)
    x = _randn(11, 2, 5, 16) * 3
    observe("CausalSelfAttention(16, 4) output (head_dim 4)", module(x), expect=expected(x),
            explain="each head divides its scores by sqrt(head_dim) = sqrt(d_model / n_heads) = 2, not by "
                    "sqrt(d_model)")


@pytest.mark.task("CausalSelfAttention")
@pytest.mark.parametrize("B,T,E,H", [(2, 5, 8, 2), (1, 1, 4, 1), (3, 7, 12, 4), (2, 9, 6, 3)],
                         ids=["B2-T5-E8-H2", "B1-T1-E4-H1", "B3-T7-E12-H4", "B2-T9-E6-H3"])
def test_attention_matches_torch(impl, B: int, T: int, E: int, H: int) -> None:
    module, expected = _attention(impl, E, H, seed=B * T + E)
    x = _randn(12, B, T, E)
    observe(f"CausalSelfAttention output (B={B}, T={T}, d_model={E}, n_heads={H})", module(x), expect=expected(x),
            explain=f"what nn.MultiheadAttention with a causal mask gives: {ATTENTION}")


@pytest.mark.task("CausalSelfAttention")
def test_attention_float32(impl) -> None:
    module, expected = _attention(impl, 8, 2, seed=13, dtype=f32)
    x = _randn(14, 2, 6, 8, dtype=f32)
    observe("CausalSelfAttention output in float32", module(x), expect=expected(x), rtol=1e-4, atol=1e-5,
            explain=f"float32 weights and inputs give a float32 output: {ATTENTION}")


@pytest.mark.task("CausalSelfAttention")
def test_attention_gradients(impl) -> None:
    module, _ = _attention(impl, 8, 2, seed=15)
    x = _randn(16, 2, 5, 8).requires_grad_()
    (module(x) * _randn(17, 2, 5, 8)).sum().backward()
    observe("gradient of CausalSelfAttention with respect to x", x.grad,
            explain="gradients flow back into x through q, k and v")
    for name in ("qkv", "out_proj"):
        observe(f"gradient of {name}.weight", getattr(module, name).weight.grad,
                explain="every weight receives the gradient nn.MultiheadAttention gives for it")


# --- DecoderBlock -----------------------------------------------------------------------------------------

NAMES = {"ln_1": "norm1", "attn.qkv": "self_attn.in_proj", "attn.out_proj": "self_attn.out_proj", "ln_2": "norm2",
         "fc1": "linear1", "fc2": "linear2"}


def _torch_name(key: str) -> str:
    prefix, kind = key.rsplit(".", 1)
    torch_prefix = NAMES[prefix]
    return f"{torch_prefix}_{kind}" if torch_prefix.endswith("in_proj") else f"{torch_prefix}.{kind}"


def _block(impl, E: int, H: int, F_: int | None, seed: int, dropout: float = 0.0, dtype: torch.dtype = f64,
           **overrides: torch.Tensor):
    """(the block under test, a function giving nn.TransformerEncoderLayer's output in eval mode), holding the
    same random weights (layer norms included); ``overrides``: entries such as ``fc2_weight`` for "fc2.weight"."""
    d_ff = 4 * E if F_ is None else F_
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(E, H, d_ff, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    keys = ["ln_1.weight", "ln_1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.out_proj.weight",
            "attn.out_proj.bias", "ln_2.weight", "ln_2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    torch_params = dict(layer.named_parameters())
    state = {}
    for key in keys:
        shape = torch_params[_torch_name(key)].shape
        value = torch.randn(shape, generator=gen, dtype=dtype)
        state[key] = 1 + value / 4 if key.endswith("ln_1.weight") or key.endswith("ln_2.weight") else (
            value / shape[-1] ** 0.5 if key.endswith("weight") else value / 4)
    for name, value in overrides.items():
        state[name.replace("attn_", "attn.").replace("_weight", ".weight").replace("_bias", ".bias")] = value
    with torch.no_grad():
        for key, value in state.items():
            torch_params[_torch_name(key)].copy_(value)
    block = impl.DecoderBlock(E, H, F_, dropout=dropout).to(dtype) if F_ is not None else (
        impl.DecoderBlock(E, H, dropout=dropout).to(dtype))
    block.load_state_dict(state)  # test_block_layers_and_state_dict says which names or shapes are wrong
    layer.eval()

    def expected(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return layer(x, src_mask=_causal_mask(x.size(1), dtype), is_causal=True)

    return block, expected


@pytest.mark.task("DecoderBlock")
def test_block_layers_and_state_dict(impl) -> None:
    block = impl.DecoderBlock(8, 2, 24)
    observe("DecoderBlock is an nn.Module", isinstance(block, nn.Module), expect=True,
            explain="DecoderBlock must subclass nn.Module")
    observe("block.attn is a CausalSelfAttention", isinstance(getattr(block, "attn", None), impl.CausalSelfAttention),
            expect=True, explain="block.attn = CausalSelfAttention(d_model, n_heads)")
    observe("state_dict key shapes of DecoderBlock(8, 2, d_ff=24)",
            {key: tuple(value.shape) for key, value in block.state_dict().items()},
            expect={"ln_1.weight": (8,), "ln_1.bias": (8,), "attn.qkv.weight": (24, 8), "attn.qkv.bias": (24,),
                    "attn.out_proj.weight": (8, 8), "attn.out_proj.bias": (8,), "ln_2.weight": (8,),
                    "ln_2.bias": (8,), "fc1.weight": (24, 8), "fc1.bias": (24,), "fc2.weight": (8, 24),
                    "fc2.bias": (8,)},
            explain="exactly ln_1, attn (qkv, out_proj), ln_2, fc1 = nn.Linear(d_model, d_ff) and "
                    "fc2 = nn.Linear(d_ff, d_model): no other parameters or persistent buffers")
    observe("fc1.weight shape of DecoderBlock(8, 2) without d_ff", tuple(impl.DecoderBlock(8, 2).fc1.weight.shape),
            expect=(32, 8), explain="d_ff defaults to 4 * d_model")


@pytest.mark.task("DecoderBlock")
def test_block_is_identity_when_sublayers_are_off(impl) -> None:
    zero8, zero32x8 = torch.zeros(8, dtype=f64), torch.zeros(8, 32, dtype=f64)
    block, _ = _block(impl, 8, 2, None, seed=20, attn_out_proj_weight=torch.zeros(8, 8, dtype=f64),
                      attn_out_proj_bias=zero8, fc2_weight=zero32x8, fc2_bias=zero8)
    x = _randn(21, 2, 5, 8)
    observe("DecoderBlock output when out_proj and fc2 are all zeros (both sub-layers output 0)", block(x), expect=x,
            explain="the residual stream carries x through: out = x + attn(ln_1(x)) + mlp(...) = x + 0 + 0. In a "
                    "pre-LN block layer norm applies only to each sub-layer's input, never to the residual sum "
                    "(that would be post-LN)")


@pytest.mark.task("DecoderBlock")
def test_block_attention_reads_ln_1(impl) -> None:
    block, expected = _block(impl, 8, 2, None, seed=22, fc2_weight=torch.zeros(8, 32, dtype=f64),
                             fc2_bias=torch.zeros(8, dtype=f64))
    x = _randn(23, 2, 5, 8) * 2 + 1
    observe("DecoderBlock output with the MLP off (fc2 zero): x + attn(ln_1(x))", block(x), expect=expected(x),
            explain="the attention sub-layer reads ln_1(x), the normalised input, not x itself, and its output is "
                    "added to x")


@pytest.mark.task("DecoderBlock")
def test_block_mlp_reads_ln_2_of_the_residual_stream(impl) -> None:
    fc1_bias = torch.full((32,), 20.0, dtype=f64)  # pre-activations near 20: GELU (or ReLU) is the identity there
    block, expected = _block(impl, 8, 2, None, seed=24, fc1_bias=fc1_bias)
    x = _randn(25, 2, 5, 8) * 2 + 1
    observe("DecoderBlock output with every fc1 pre-activation near +20 (where GELU(z) = z)", block(x),
            expect=expected(x),
            explain="the MLP reads ln_2(h), with h = x + attn(ln_1(x)) the residual stream after attention, and its "
                    "output is added to h: out = h + fc2(gelu(fc1(ln_2(h))))")


@pytest.mark.task("DecoderBlock")
def test_block_mlp_activation(impl) -> None:
    block, expected = _block(impl, 8, 2, None, seed=26, attn_out_proj_weight=torch.zeros(8, 8, dtype=f64),
                             attn_out_proj_bias=torch.zeros(8, dtype=f64))
    x = _randn(27, 2, 5, 8)
    observe("DecoderBlock output with attention off (out_proj zero): x + fc2(gelu(fc1(ln_2(x))))", block(x),
            expect=expected(x),
            explain="the MLP's activation is the exact GELU, x * Phi(x) (F.gelu, approximate='none'): not ReLU, "
                    "not the tanh approximation")


@pytest.mark.task("DecoderBlock")
def test_block_future_never_changes_the_past(impl) -> None:
    block, _ = _block(impl, 8, 2, None, seed=28)
    x = _randn(29, 2, 7, 8)
    changed = x.clone()
    changed[:, 4:] = _randn(30, 2, 3, 8) * 3
    before = block(x)
    observe("change of the DecoderBlock outputs at positions 0..3 when the tokens at positions 4..6 change",
            block(changed)[:, :4] - before[:, :4], expect=torch.zeros(2, 4, 8, dtype=f64),
            explain="the block is causal: attention looks only backwards and the MLP and layer norms work on each "
                    "position alone, so the future never changes the past (this compares your block with itself)")


@pytest.mark.task("DecoderBlock")
@pytest.mark.parametrize("B,T,E,H,d_ff", [(2, 5, 8, 2, None), (1, 1, 4, 1, 8), (3, 6, 12, 4, 20), (2, 8, 6, 3, None)],
                         ids=["B2-T5-E8-H2", "B1-T1-E4-H1-F8", "B3-T6-E12-H4-F20", "B2-T8-E6-H3"])
def test_block_matches_torch(impl, B: int, T: int, E: int, H: int, d_ff: int | None) -> None:
    block, expected = _block(impl, E, H, d_ff, seed=B * T + E)
    x = _randn(31, B, T, E)
    observe(f"DecoderBlock output (B={B}, T={T}, d_model={E}, n_heads={H}, d_ff={d_ff or 4 * E})", block(x),
            expect=expected(x), explain=BLOCK)


@pytest.mark.task("DecoderBlock")
def test_block_float32(impl) -> None:
    block, expected = _block(impl, 8, 2, 16, seed=32, dtype=f32)
    x = _randn(33, 2, 6, 8, dtype=f32)
    observe("DecoderBlock output in float32", block(x), expect=expected(x), rtol=1e-4, atol=1e-5,
            explain=f"float32 weights and inputs give a float32 output: {BLOCK}")


@pytest.mark.task("DecoderBlock")
def test_block_dropout_one_leaves_only_the_residual(impl) -> None:
    block, _ = _block(impl, 8, 2, None, seed=34, dropout=1.0)
    block.train()
    x = _randn(35, 2, 5, 8)
    observe("DecoderBlock(dropout=1.0) output in training mode", block(x), expect=x,
            explain="dropout applies to each sub-layer's output before it is added to the residual stream: with "
                    "p = 1 both outputs are dropped and x comes out unchanged (the residual stream itself is never "
                    "dropped)")


@pytest.mark.task("DecoderBlock")
def test_block_eval_mode_turns_dropout_off(impl) -> None:
    block, expected = _block(impl, 8, 2, None, seed=36, dropout=0.5)
    block.eval()
    x = _randn(37, 2, 5, 8)
    observe("DecoderBlock(dropout=0.5) output in eval mode", block(x), expect=expected(x),
            explain="in eval mode dropout does nothing, so the output equals the block without dropout: "
                    "nn.Dropout follows model.eval(); F.dropout needs training=self.training")


@pytest.mark.task("DecoderBlock")
def test_block_dropout_is_active_in_training(impl) -> None:
    block, _ = _block(impl, 8, 2, None, seed=38, dropout=0.5)
    block.train()
    x = _randn(39, 2, 5, 8)
    torch.manual_seed(1)
    first = block(x)
    torch.manual_seed(2)
    second = block(x)
    observe("two training-mode calls of DecoderBlock(dropout=0.5) with different seeds give different outputs",
            not torch.equal(first, second), expect=True,
            explain="in training mode dropout zeroes a random half of each sub-layer's output (and scales the rest "
                    "by 2), so two calls differ")


@pytest.mark.task("DecoderBlock")
def test_block_no_dropout_train_equals_eval(impl) -> None:
    block, expected = _block(impl, 8, 2, None, seed=40)
    block.train()
    x = _randn(41, 2, 5, 8)
    observe("DecoderBlock(dropout=0.0) output in training mode", block(x), expect=expected(x),
            explain="with dropout=0.0 training mode changes nothing: " + BLOCK)


@pytest.mark.task("DecoderBlock")
def test_block_does_not_modify_x(impl) -> None:
    block, _ = _block(impl, 8, 2, None, seed=45)
    x = _randn(46, 2, 5, 8)
    original = x.clone()
    block(x)
    observe("x after DecoderBlock(x)", x, expect=original, exact=True,
            explain="the block returns a new tensor: no in-place += on x")


@pytest.mark.task("DecoderBlock")
def test_block_gradients(impl) -> None:
    block, _ = _block(impl, 8, 2, 16, seed=42)
    x = _randn(43, 2, 5, 8).requires_grad_()
    (block(x) * _randn(44, 2, 5, 8)).sum().backward()
    observe("gradient of DecoderBlock with respect to x", x.grad,
            explain="gradients flow into x along the residual stream and through both sub-layers")
    for name in ("ln_1.weight", "attn.qkv.weight", "ln_2.weight", "fc1.weight", "fc2.bias"):
        observe(f"gradient of {name}", block.get_parameter(name).grad,
                explain="every parameter receives the gradient nn.TransformerEncoderLayer gives for it")
