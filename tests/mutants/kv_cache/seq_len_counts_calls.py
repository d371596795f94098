"""Reference solution: a key/value cache for incremental decoding, and greedy decoding that uses it."""

from __future__ import annotations

import math

import torch
from torch import nn


class KVCache:
    def __init__(self) -> None:
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}
        self.steps = 0

    @property
    def seq_len(self) -> int:
        # Positions cached in layer 0 (the sequence axis, -2, of its keys); between forward passes every
        # layer holds the same number.
        return self.steps

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if layer in self.keys:
            # Append along the sequence axis: (B, H, P, Dh) + (B, H, T, Dh) -> (B, H, P + T, Dh).
            k = torch.cat((self.keys[layer], k), dim=-2)
            v = torch.cat((self.values[layer], v), dim=-2)
        self.keys[layer], self.values[layer] = k, v
        if layer == 0:
            self.steps += 1
        return k, v


class CachedSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).split(self.d_model, dim=-1)
        q, k, v = (t.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        total = k.size(-2)
        # Positions this layer had cached before the call. Not cache.seq_len: in a forward pass through several
        # layers, the layers below have already added this call's positions to their own caches.
        past = total - length
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, past + T)
        # The new queries sit at absolute positions past .. past + T - 1: query i may see keys 0 .. past + i.
        # This is the causal mask aligned to the bottom-right corner (top-left only when past == 0).
        query_pos = torch.arange(past, past + length, device=x.device)[:, None]
        key_pos = torch.arange(total, device=x.device)[None, :]
        scores = scores.masked_fill(key_pos > query_pos, float("-inf"))
        out = scores.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, self.d_model))


class TinyLM(nn.Module):
    """Given (not a task): a small decoder-only language model built on CachedSelfAttention."""

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
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    cache = KVCache()
    tokens, step_logits = [], []
    logits = model(prompt, cache)[:, -1]  # prefill: the whole prompt in one call
    for step in range(max_new_tokens):
        next_token = logits.argmax(dim=-1)  # (B,): ties go to the lowest index
        tokens.append(next_token)
        step_logits.append(logits)
        if step + 1 < max_new_tokens:
            # Only the new token goes in: everything before it is already in the cache.
            logits = model(next_token[:, None], cache)[:, -1]
    return torch.stack(tokens, dim=1), torch.stack(step_logits, dim=1)
