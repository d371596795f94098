"""Grading tests for the kv_cache exercise, in float64.

The central checks compare your code with itself: attention (and the whole TinyLM) fed in pieces with your
cache must give, at every position, what the same module gives on the whole sequence without a cache (the
difference is observed, and must be zero). Other tests compare with nn.MultiheadAttention and with the
reference's tokens and logits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
INCREMENTAL = ("fed in pieces with a cache, position P + i of a call attends to keys 0 .. P + i (all cached "
               "positions and the new ones up to itself): the outputs equal the full-sequence forward")


def _randn(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=f64)


def _tokens(seed: int, *shape: int, vocab: int = 11) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


# --- KVCache ----------------------------------------------------------------------------------------------

@pytest.mark.task("KVCache")
def test_cache_starts_empty(impl) -> None:
    observe("KVCache().seq_len", impl.KVCache().seq_len, expect=0, explain="a new cache holds no positions")


@pytest.mark.task("KVCache")
def test_cache_first_update_returns_its_input(impl) -> None:
    cache = impl.KVCache()
    k, v = _randn(1, 2, 3, 5, 4), _randn(2, 2, 3, 5, 4)
    k_all, v_all = cache.update(0, k, v)
    observe("keys returned by the first update of layer 0 (B=2, H=3, T=5, head_dim=4)", k_all, expect=k,
            explain="a layer seen for the first time starts with the keys it is given")
    observe("values returned by the first update of layer 0", v_all, expect=v,
            explain="a layer seen for the first time starts with the values it is given")
    observe("seq_len after caching 5 positions", cache.seq_len, expect=5,
            explain="seq_len counts positions (the sequence axis, dim -2), not calls")


@pytest.mark.task("KVCache")
def test_cache_appends_along_the_sequence_axis(impl) -> None:
    cache = impl.KVCache()
    k1, v1, k2, v2 = _randn(3, 2, 3, 5, 4), _randn(4, 2, 3, 5, 4), _randn(5, 2, 3, 1, 4), _randn(6, 2, 3, 1, 4)
    cache.update(0, k1, v1)
    k_all, v_all = cache.update(0, k2, v2)
    observe("keys after caching 5 positions and then 1 more (B=2, H=3, head_dim=4)", k_all,
            expect=torch.cat((k1, k2), dim=-2),
            explain="update appends along the sequence axis (dim -2), the cached positions first: shape "
                    "(B, H, 5 + 1, head_dim)")
    observe("values after caching 5 positions and then 1 more", v_all, expect=torch.cat((v1, v2), dim=-2),
            explain="values are appended like keys, along dim -2")
    observe("seq_len after caching 5 positions and then 1 more", cache.seq_len, expect=6,
            explain="seq_len counts positions (the sequence axis, dim -2), not calls: 5 + 1 = 6")


@pytest.mark.task("KVCache")
def test_cache_layers_are_independent(impl) -> None:
    cache = impl.KVCache()
    ks = [_randn(10 + i, 1, 2, 3, 4) for i in range(4)]
    vs = [_randn(20 + i, 1, 2, 3, 4) for i in range(4)]
    cache.update(0, ks[0], vs[0])
    cache.update(1, ks[1], vs[1])
    k0, v0 = cache.update(0, ks[2], vs[2])
    k1, v1 = cache.update(1, ks[3], vs[3])
    observe("layer 0's keys after two passes through layers 0 and 1", k0, expect=torch.cat((ks[0], ks[2]), -2),
            explain="each layer has its own cache: layer 0 keeps only the keys given for layer 0")
    observe("layer 1's values after two passes through layers 0 and 1", v1, expect=torch.cat((vs[1], vs[3]), -2),
            explain="each layer has its own cache: layer 1 keeps only the values given for layer 1")
    observe("seq_len after two passes of 3 positions through 2 layers", cache.seq_len, expect=6,
            explain="seq_len is the number of positions cached (3 + 3), the same in every layer, not the number "
                    "of update calls or layers")


# --- CachedSelfAttention ----------------------------------------------------------------------------------

def _attention(impl, E: int, H: int, seed: int):
    torch.manual_seed(seed)
    module = impl.CachedSelfAttention(E, H).to(f64)
    _fill(module, seed, scale=True)
    return module


def _fill(module: nn.Module, seed: int, scale: bool = False) -> None:
    """Give every parameter values drawn from ``seed`` in the order of their names, so that the weights do
    not depend on the order in which a submission defines its layers (or on how it initialises them)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(module.named_parameters()):
            value = torch.randn(p.shape, generator=gen, dtype=f64)
            p.copy_(value / p.shape[-1] ** 0.5 if scale else value)


@pytest.mark.task("CachedSelfAttention")
def test_attention_state_dict(impl) -> None:
    observe("state_dict key shapes of CachedSelfAttention(12, 3)",
            {key: tuple(value.shape) for key, value in impl.CachedSelfAttention(12, 3).state_dict().items()},
            expect={"qkv.weight": (36, 12), "qkv.bias": (36,), "out_proj.weight": (12, 12), "out_proj.bias": (12,)},
            explain="exactly qkv = nn.Linear(d_model, 3 * d_model) and out_proj = nn.Linear(d_model, d_model)")
    with expect_raises("CachedSelfAttention(10, 3)", ValueError,
                       explain="__init__ raises ValueError when d_model is not divisible by n_heads"):
        impl.CachedSelfAttention(10, 3)


@pytest.mark.task("CachedSelfAttention")
def test_attention_without_cache_matches_torch(impl) -> None:
    module = _attention(impl, 8, 2, seed=30)
    x = _randn(31, 2, 6, 8)
    mha = nn.MultiheadAttention(8, 2, batch_first=True, dtype=f64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(module.qkv.weight)
        mha.in_proj_bias.copy_(module.qkv.bias)
        mha.out_proj.weight.copy_(module.out_proj.weight)
        mha.out_proj.bias.copy_(module.out_proj.bias)
        mask = torch.ones(6, 6, dtype=torch.bool).triu(1)  # True = blocked, nn.MultiheadAttention's convention
        expected = mha(x, x, x, attn_mask=mask, need_weights=False)[0]
    observe("CachedSelfAttention(8, 2) output without a cache (B=2, T=6)", module(x), expect=expected,
            explain="without a cache: causal multi-head self-attention, query t attends to keys 0..t, scores "
                    "scaled by 1/sqrt(head_dim), the same as nn.MultiheadAttention with a causal mask")


@pytest.mark.task("CachedSelfAttention")
def test_attention_one_token_at_a_time(impl) -> None:
    module = _attention(impl, 8, 2, seed=32)
    x = _randn(33, 2, 6, 8)
    full = module(x)
    cache = impl.KVCache()
    steps = torch.cat([module(x[:, t:t + 1], cache, 0) for t in range(6)], dim=1)
    observe("difference between CachedSelfAttention fed one token at a time with a cache and the full forward",
            steps - full, expect=torch.zeros(2, 6, 8, dtype=f64),
            explain="a single new token at position P attends to every cached key and to itself (no causal mask "
                    "is needed, and is_causal=True would align it to the top-left corner, letting it see only key "
                    "0); this compares your module with itself")


@pytest.mark.task("CachedSelfAttention")
def test_attention_prompt_in_chunks(impl) -> None:
    module = _attention(impl, 12, 3, seed=34)
    x = _randn(35, 2, 8, 12)
    full = module(x)
    cache = impl.KVCache()
    pieces = torch.cat([module(x[:, a:b], cache, 0) for a, b in ((0, 3), (3, 5), (5, 8))], dim=1)
    observe("difference between CachedSelfAttention fed in chunks of 3, 2 and 3 positions with a cache and the "
            "full forward", pieces - full, expect=torch.zeros(2, 8, 12, dtype=f64),
            explain="with P cached positions and a chunk of T > 1 new ones, query i may see keys 0 .. P + i: the "
                    "causal mask of shape (T, P + T) is aligned to the bottom-right corner (query_pos >= key_pos "
                    "with query positions P .. P + T - 1); this compares your module with itself")
    observe("cache.seq_len after the three chunks", cache.seq_len, expect=8,
            explain="the attention layer adds every new position's keys and values to the cache")


@pytest.mark.task("CachedSelfAttention")
def test_attention_cached_outputs_match_reference(impl) -> None:
    module = _attention(impl, 8, 4, seed=36)
    x = _randn(37, 3, 5, 8)
    cache = impl.KVCache()
    first = module(x[:, :4], cache, 0)
    last = module(x[:, 4:], cache, 0)
    observe("CachedSelfAttention(8, 4) outputs for a 4-position prompt and then 1 token, with a cache",
            torch.cat((first, last), dim=1), explain=INCREMENTAL)


@pytest.mark.task("CachedSelfAttention")
def test_tinylm_prompt_in_chunks_with_cache(impl) -> None:
    model = _model(impl, seed=56, n_layers=3)
    tokens = _tokens(57, 2, 9)
    full = model(tokens)
    cache = impl.KVCache()
    pieces = torch.cat([model(tokens[:, a:b], cache) for a, b in ((0, 4), (4, 7), (7, 9))], dim=1)
    observe("difference between a 3-layer TinyLM's logits fed in chunks of 4, 3 and 2 tokens with a KVCache and "
            "the full forward", pieces - full, expect=torch.zeros(2, 9, 11, dtype=f64),
            explain="each layer's P is the number of positions that layer had cached before the call (what "
                    "update returns minus the T new ones): layer 0 has already added this call's positions "
                    "when layer 1 runs, so cache.seq_len is not layer 1's P; this compares your code with itself")


# --- greedy_decode ----------------------------------------------------------------------------------------

def _model(impl, seed: int, vocab: int = 11, d_model: int = 8, n_heads: int = 2, n_layers: int = 2):
    torch.manual_seed(seed)
    model = impl.TinyLM(vocab, d_model, n_heads, n_layers).to(f64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every weight drawn here, by name: layer norms and biases random too
        for name, p in sorted(model.named_parameters()):
            value = torch.randn(p.shape, generator=gen, dtype=f64)
            if name.endswith("weight") and p.dim() == 2 and not name.startswith(("tok", "pos")):
                value = value / p.shape[-1] ** 0.5
            elif "ln" in name and name.endswith("weight"):
                value = 1 + 0.3 * value
            else:
                value = 0.3 * value if name.endswith("bias") else value
            p.copy_(value)
    return model.eval()


@pytest.mark.task("greedy_decode")
def test_tinylm_token_by_token_with_cache(impl) -> None:
    model = _model(impl, seed=50)
    tokens = _tokens(51, 2, 7)
    full = model(tokens)
    cache = impl.KVCache()
    steps = torch.cat([model(tokens[:, t:t + 1], cache) for t in range(7)], dim=1)
    observe("difference between TinyLM's logits fed one token at a time with a KVCache and the full forward",
            steps - full, expect=torch.zeros(2, 7, 11, dtype=f64),
            explain="TinyLM reads cache.seq_len for the positions of the new tokens and every layer extends the "
                    "cache: with your KVCache and CachedSelfAttention every step's logits equal the full "
                    "forward's; this compares your code with itself")


@pytest.mark.task("greedy_decode")
def test_greedy_decode_rejects_zero_tokens(impl) -> None:
    model = _model(impl, seed=52)
    with expect_raises("greedy_decode(model, prompt, 0)", ValueError,
                       explain="max_new_tokens must be at least 1: ValueError"):
        impl.greedy_decode(model, _tokens(53, 1, 3), 0)


@pytest.mark.task("greedy_decode")
def test_greedy_decode_uses_the_cache(impl) -> None:
    model = _model(impl, seed=54)
    calls: list[tuple] = []
    original = model.forward

    def spy(tokens, cache=None):
        calls.append((tuple(tokens.shape), cache))
        return original(tokens, cache)

    model.forward = spy
    impl.greedy_decode(model, _tokens(55, 2, 5), 4)
    shapes = [shape for shape, _ in calls]
    observe("token shape of greedy_decode's first model call (prompt of shape (2, 5))",
            shapes[0] if shapes else None, expect=(2, 5),
            explain="prefill: the first call feeds the whole prompt at once")
    observe("token shapes of greedy_decode's later model calls (4 new tokens)", sorted(set(shapes[1:])),
            expect=[(2, 1)], explain="after the prefill, each call feeds only the newest token, shape (B, 1): "
                                     "everything before it is in the cache")
    observe("number of model calls after the prefill, for 4 new tokens, is 3 or 4", len(shapes) - 1 in (3, 4),
            expect=True, explain="one call per new token after the first (a last call after the final token is "
                                 "allowed)")
    caches = [cache for _, cache in calls]
    observe("every model call gets the same, not-None cache",
            bool(caches) and caches[0] is not None and all(cache is caches[0] for cache in caches), expect=True,
            explain="one KVCache for the whole generation, passed as model(tokens, cache) in every call")


@pytest.mark.task("greedy_decode")
@pytest.mark.parametrize("B,P,N,seed", [(1, 1, 1, 60), (2, 5, 6, 61), (3, 3, 9, 62)],
                         ids=["B1-P1-N1", "B2-P5-N6", "B3-P3-N9"])
def test_greedy_decode_logits_equal_full_forward(impl, B: int, P: int, N: int, seed: int) -> None:
    model = _model(impl, seed=seed)
    prompt = _tokens(seed + 100, B, P)
    tokens, logits = impl.greedy_decode(model, prompt, N)
    observe(f"shape and dtype of the tokens from greedy_decode (B={B}, prompt length {P}, {N} new tokens)",
            (tuple(tokens.shape), str(tokens.dtype)), expect=((B, N), "torch.int64"),
            explain="tokens has shape (B, max_new_tokens) and dtype int64")
    with torch.no_grad():
        full = torch.stack([model(torch.cat((prompt, tokens[:, :i]), dim=1))[:, -1] for i in range(N)], dim=1)
    observe(f"difference between greedy_decode's logits and the full forward on prompt + tokens so far "
            f"(B={B}, P={P}, N={N})", logits - full, expect=torch.zeros(B, N, 11, dtype=f64),
            explain="logits[:, i] are the last position's logits after the prompt and tokens 0..i-1, the ones "
                    "token i was chosen from (not those of the step after); this compares your code with itself")
    observe(f"tokens from greedy_decode (B={B}, P={P}, N={N})", tokens,
            explain="each token is the argmax of the logits it was chosen from, fed back in as the next input")
    observe(f"logits from greedy_decode (B={B}, P={P}, N={N})", logits,
            explain="the reference's logits at every step: " + INCREMENTAL)


@pytest.mark.task("greedy_decode")
def test_greedy_decode_ties_go_to_the_lowest_index(impl) -> None:
    model = _model(impl, seed=63)
    with torch.no_grad():
        model.head.weight.zero_()  # every logit 0: a tie between all tokens at every step
    tokens, _ = impl.greedy_decode(model, _tokens(64, 2, 3), 3)
    observe("tokens from greedy_decode when every logit is 0", tokens, expect=torch.zeros(2, 3, dtype=torch.long),
            explain="greedy picks argmax, and torch.argmax returns the first (lowest) index among equal maxima")
