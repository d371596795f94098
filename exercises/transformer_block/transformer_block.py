"""A pre-LN transformer decoder block (GPT-2 style): causal self-attention, an MLP, residuals and dropout.

The grader copies the weights of PyTorch's own ``nn.TransformerEncoderLayer(norm_first=True,
activation="gelu", batch_first=True)`` (with a causal mask) into your modules and compares the outputs and
gradients (in float64, so the numbers must match closely). It also checks the causal property: changing
the tokens after position t never changes the outputs at positions 0..t.

You may use ``nn.Linear``, ``nn.LayerNorm``, ``nn.Dropout``, ``F.gelu`` and ``F.softmax``, and
``F.scaled_dot_product_attention`` if you like; ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer``
keep their weights under other names, so they do not fit the attributes below.
"""

from __future__ import annotations

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention for batch-first inputs.

    Attributes (the grader loads weights into them, so the names and shapes must be exactly these):
        qkv: ``nn.Linear(d_model, 3 * d_model)``; its output is [q | k | v] along the last dim (rows of
            ``qkv.weight`` are [q rows; k rows; v rows], as in ``nn.MultiheadAttention.in_proj_weight``).
        out_proj: ``nn.Linear(d_model, d_model)``.
        d_model, n_heads, head_dim: ints, ``head_dim = d_model // n_heads``.
        No other parameters or persistent buffers: ``state_dict()`` holds exactly ``qkv.weight``,
        ``qkv.bias``, ``out_proj.weight``, ``out_proj.bias`` (a causal-mask buffer, if you keep one, must be
        registered with ``persistent=False``; building the mask in ``forward`` is fine too).

    Raises:
        ValueError from ``__init__`` when ``d_model`` is not divisible by ``n_heads``.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d_model) -> (B, T, d_model).

        Split q, k and v into ``n_heads`` heads of ``head_dim`` features (head h takes features
        h * head_dim .. (h + 1) * head_dim - 1), attend per head with scores ``q @ k^T / sqrt(head_dim)``
        where query t may attend only to keys 0..t (itself included), softmax over the keys, weights @ v,
        merge the heads back in order, then ``out_proj``. No dropout inside attention. Works for any T >= 1
        and either float dtype; gradients flow into x and every weight.
        """
        raise NotImplementedError


class DecoderBlock(nn.Module):
    """A pre-LN decoder block, with h the residual stream:

        h = x + dropout(attn(ln_1(x)))
        out = h + dropout(fc2(gelu(fc1(ln_2(h)))))

    Attributes (exact names; the grader loads a state_dict with ``strict=True``):
        ln_1, ln_2: ``nn.LayerNorm(d_model)`` (eps 1e-5, with weight and bias).
        attn: a ``CausalSelfAttention(d_model, n_heads)`` (so its keys are ``attn.qkv.weight``, ...).
        fc1: ``nn.Linear(d_model, d_ff)``; fc2: ``nn.Linear(d_ff, d_model)``; ``d_ff`` defaults to
            ``4 * d_model``.
        Anything for dropout (``nn.Dropout(dropout)`` holds no parameters). ``state_dict()`` holds exactly the
        keys of ln_1, attn, ln_2, fc1 and fc2.

    ``gelu`` is the exact GELU (``F.gelu`` / ``nn.GELU()`` with the default ``approximate="none"``, not the tanh
    approximation). Dropout with probability ``dropout`` applies to each sub-layer's output before it is added
    to the residual stream (so with ``dropout=1.0`` in training mode the block returns x unchanged); it is
    active only in training mode (``model.train()``) and does nothing in ``model.eval()``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d_model) -> (B, T, d_model), x's dtype; x is not modified."""
        raise NotImplementedError
