"""Incremental decoding with a key/value cache: the logits of every step equal the full-sequence forward.

When a decoder generates token t + 1, the keys and values of tokens 0..t have not changed since they were
computed. A KV cache keeps them, so each step feeds only the newest token instead of the whole sequence.
The grader runs the given ``TinyLM`` (built on your ``CachedSelfAttention``) with and without your cache and
compares the logits at every step, in float64, with your own full forward and with the reference's.
"""

from __future__ import annotations

import torch
from torch import nn


class KVCache:
    """The keys and values of every attention layer for the positions seen so far.

    ``KVCache()`` starts empty. Keys and values have shape (B, H, T, head_dim): batch, heads, positions,
    features; the sequence axis is dim -2.
    """

    def __init__(self) -> None:
        raise NotImplementedError

    @property
    def seq_len(self) -> int:
        """The number of positions cached in layer 0 (0 when nothing is cached): the length of the sequence
        axis of layer 0's keys. Between forward passes every layer holds the same number; TinyLM reads it
        before its first layer runs to number the new positions."""
        raise NotImplementedError

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this call's keys and values (B, H, T, head_dim) to layer ``layer``'s cache and return all of
        them so far, (B, H, P + T, head_dim) each, the cached positions first. A layer seen for the first time
        starts with these. Layers are independent: layer 1's cache never holds layer 0's keys."""
        raise NotImplementedError


class CachedSelfAttention(nn.Module):
    """Multi-head causal self-attention that can read and extend a KVCache.

    Attributes: ``qkv = nn.Linear(d_model, 3 * d_model)`` (output [q | k | v]) and
    ``out_proj = nn.Linear(d_model, d_model)``, nothing else in ``state_dict()``; ``d_model``, ``n_heads``,
    ``head_dim = d_model // n_heads``. ``__init__`` raises ValueError when d_model % n_heads != 0.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """x: (B, T, d_model), the new positions only -> (B, T, d_model).

        Without a cache, x is the whole sequence: ordinary causal self-attention (query t sees keys 0..t),
        heads split as ``view(B, T, H, head_dim).transpose(1, 2)``, scores scaled by 1 / sqrt(head_dim),
        heads merged back in order, then ``out_proj``.

        With a cache that holds P positions for this ``layer``, x holds positions P .. P + T - 1 (T = 1 when
        decoding one token, any T for a prompt fed in chunks). Add this call's k and v to ``cache`` under
        ``layer`` and attend over all P + T keys that ``update`` returns: the new query i (absolute position
        P + i) may see keys 0 .. P + i, itself included and never a later one. The outputs must equal rows
        P .. P + T - 1 of the same attention run on the whole sequence without a cache. (P is this layer's
        count: in a forward pass through several layers, ``cache.seq_len`` (layer 0's) has already grown by
        T when layer 1 runs.)
        """
        raise NotImplementedError


class TinyLM(nn.Module):
    """Given, not a task (do not change it): a small decoder-only language model built on your
    CachedSelfAttention, with learned position embeddings and pre-LN blocks.

    ``model(tokens)`` runs the whole sequence (tokens: (B, T) int64) and returns logits (B, T, vocab_size).
    ``model(tokens, cache)`` runs only the new tokens: their positions start at ``cache.seq_len`` (the number
    of positions already cached), and every attention layer adds their keys and values to ``cache``.
    """

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, n_layers: int, max_len: int = 64) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.ln_attn = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.attn = nn.ModuleList(CachedSelfAttention(d_model, n_heads) for _ in range(n_layers))
        self.ln_mlp = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mlp = nn.ModuleList(nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                               nn.Linear(4 * d_model, d_model)) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        past = cache.seq_len if cache is not None else 0
        positions = torch.arange(past, past + tokens.size(1), device=tokens.device)
        h = self.tok(tokens) + self.pos(positions)
        for layer, (ln_attn, attn, ln_mlp, mlp) in enumerate(zip(self.ln_attn, self.attn, self.ln_mlp, self.mlp,
                                                                 strict=True)):
            h = h + attn(ln_attn(h), cache, layer)
            h = h + mlp(ln_mlp(h))
        return self.head(self.ln_f(h))


def greedy_decode(model: nn.Module, prompt: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``max_new_tokens`` tokens greedily with a fresh KVCache.

    Args:
        model: called as ``model(tokens, cache)`` -> logits (B, T, V) (the given TinyLM).
        prompt: (B, P) int64 token ids, P >= 1 (no padding: every row has the same length).
        max_new_tokens: how many tokens to generate, at least 1 (else ValueError).

    Use the cache: call the model once with the whole prompt (prefill), then once per new token with that
    token alone, shape (B, 1), always the same cache. (A last call after the final token is not needed; it
    is allowed.) Each new token is the ``argmax`` of the last position's logits (ties: the lowest index,
    as ``torch.argmax`` does).

    Returns:
        (tokens, logits): tokens (B, max_new_tokens) int64; logits (B, max_new_tokens, V), where
        ``logits[:, i]`` are the next-token logits token i was chosen from (they equal
        ``model(torch.cat([prompt, tokens[:, :i]], 1))[:, -1]`` without a cache).
    """
    raise NotImplementedError
