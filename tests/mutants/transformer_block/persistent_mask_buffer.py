"""Reference solution: causal self-attention and a pre-LN transformer decoder block (GPT-2 style), by hand."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # rows [q; k; v]
        self.out_proj = nn.Linear(d_model, d_model)
        self.register_buffer("mask", torch.ones(1024, 1024, dtype=torch.bool).tril())  # nanoGPT's causal mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).split(self.d_model, dim=-1)
        # (B, T, E) -> (B, T, H, Dh) -> (B, H, T, Dh): every head sees every position, its own Dh features.
        q, k, v = (t.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)
        # Query t may look at keys 0..t: the diagonal stays, so no row is ever fully masked.
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(out)


class DecoderBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ln_2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)  # follows the module's train/eval mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pre-LN: each sub-layer reads a normalised copy, and its (dropped-out) output is added to the
        # residual stream, which itself is never normalised inside the block.
        h = x + self.dropout(self.attn(self.ln_1(x)))
        return h + self.dropout(self.fc2(F.gelu(self.fc1(self.ln_2(h)))))
