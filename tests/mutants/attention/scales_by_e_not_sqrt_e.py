# MUTANT: divides the scores by E instead of sqrt(E)
"""Reference solution: scaled dot-product attention and multi-head attention, by hand."""

from __future__ import annotations

import torch
from torch import nn


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    L, S = q.size(-2), k.size(-2)
    # Scale by the query/key width E (not by v's width): it keeps the scores' variance near 1 so the
    # softmax does not saturate as E grows.
    scores = q @ k.transpose(-2, -1) / q.size(-1)
    if is_causal:
        # Top-left aligned: query i sees keys 0..i, whatever S is.
        allowed = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            # SDPA's convention: True takes part, so block where the mask is False.
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    # A row of all -inf would give softmax 0/0 = NaN. Give such rows finite scores (0) before the softmax
    # and zero weights after it, so both the output and the gradient are 0 there, as PyTorch does.
    blocked = torch.isneginf(scores).all(dim=-1, keepdim=True)
    scores = scores.masked_fill(blocked, 0.0)
    weights = scores.softmax(dim=-1).masked_fill(blocked, 0.0)
    return weights @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, E) -> (B, T, H, Dh) -> (B, H, T, Dh). A bare view(B, H, T, Dh) would keep the memory
        # order and mix positions into heads: the transpose is what makes each head see every position.
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        batch, L, _ = query.shape
        S = key.size(1)
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))

        # Build one bool mask in SDPA's convention (True = may attend), shape broadcastable to (B, H, L, S).
        allowed = None
        if key_padding_mask is not None:
            # The padding mask says True = padding, the opposite convention: invert it.
            allowed = ~key_padding_mask[:, None, None, :]
        if is_causal:
            causal = torch.ones(L, S, dtype=torch.bool, device=query.device).tril()
            allowed = causal if allowed is None else allowed & causal

        out = scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        # (B, H, L, Dh) -> (B, L, H, Dh) -> (B, L, E): heads side by side in head order.
        out = out.transpose(1, 2).reshape(batch, L, self.embed_dim)
        return self.out_proj(out)
