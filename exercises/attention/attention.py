"""Attention from scratch: scaled dot-product attention and a multi-head attention layer.

The grader compares your code with PyTorch's own ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention`` (in float64, so the numbers must match closely), masks included.
"""

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
    """Scaled dot-product attention, written by hand: ``softmax(q k^T / sqrt(E) + mask) v``.

    Do not call ``torch.nn.functional.scaled_dot_product_attention`` (the grader checks): the point is to
    write it yourself. The result must equal what that function returns (no dropout, default scale).

    Args:
        q: queries, shape (..., L, E): any number of leading batch dims (none, (B,), (B, H), ...).
        k: keys, shape (..., S, E), the same leading dims as ``q``.
        v: values, shape (..., S, Ev), the same leading dims; Ev may differ from E.
        attn_mask: optional, broadcastable to (..., L, S):
            - a bool tensor: True means the query may attend to that key (takes part), False means it may
              not. (This is PyTorch's SDPA convention; nn.MultiheadAttention's bool masks mean the opposite.)
            - a float tensor of q's dtype: added to the scaled scores before the softmax (so ``-inf`` blocks).
        is_causal: if True, query i may attend only to keys j <= i. With L != S the causal mask is aligned
            to the top-left corner, as PyTorch does: the allowed pairs are ``torch.ones(L, S).tril()``.
            Callers never pass ``attn_mask`` together with ``is_causal=True``.

    Returns:
        A tensor of shape (..., L, Ev) and q's dtype. The scale is ``1 / sqrt(E)`` with E = ``q.size(-1)``.
        A query row that may attend to no key at all (every entry of its mask row False or ``-inf``) gives
        an output row of zeros, not NaN, as ``F.scaled_dot_product_attention`` does in PyTorch 2.5 and
        later; its gradient is zero too. Gradients flow back into ``q``, ``k`` and ``v``. The inputs are
        not modified.
    """
    raise NotImplementedError


class MultiHeadAttention(nn.Module):
    """Multi-head attention for batch-first inputs, the same computation as
    ``nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)`` with no dropout.

    Attributes (the grader copies weights into them, so the names and shapes must be exactly these):
        q_proj, k_proj, v_proj, out_proj: each ``nn.Linear(embed_dim, embed_dim, bias=bias)``, and no other
            parameters or buffers, so ``state_dict()`` has exactly the keys ``q_proj.weight``,
            ``q_proj.bias``, ..., ``out_proj.bias`` (no ``*.bias`` keys when ``bias=False``).
        embed_dim, num_heads, head_dim: ints, ``head_dim = embed_dim // num_heads``.

    nn.MultiheadAttention keeps the three input projections in one ``in_proj_weight`` of shape
    (3 * embed_dim, embed_dim); its rows are [q rows; k rows; v rows], which is how the grader splits it.

    Raises:
        ValueError from ``__init__`` when ``embed_dim`` is not divisible by ``num_heads``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: (B, L, embed_dim).
            key, value: (B, S, embed_dim) each (S may differ from L: cross-attention).
            key_padding_mask: optional bool tensor (B, S): True marks a padding key that no query may attend
                to, exactly like nn.MultiheadAttention's ``key_padding_mask``. Every row of the batch keeps
                at least one key that is not padding (a fully padded row is not specified).
            is_causal: if True, query i attends only to keys j <= i (top-left aligned, as above); combined
                with ``key_padding_mask`` when both are given.

        Returns:
            Only the attention output, shape (B, L, embed_dim) (not the pair ``(output, weights)`` that
            nn.MultiheadAttention returns). Project q, k and v, split ``embed_dim`` into ``num_heads`` heads
            of ``head_dim``, attend per head with scale ``1 / sqrt(head_dim)``, merge the heads back in
            head order and apply ``out_proj``. You may use your ``scaled_dot_product_attention`` above (or
            PyTorch's) inside.
        """
        raise NotImplementedError
