"""Position information for transformers: sinusoidal encodings and rotary position embeddings (RoPE).

The grader compares your code with a reference written from the formulas below, in float32 and float64, checks
worked examples by hand, and checks the property that makes RoPE useful: the dot product of a rotated query
and a rotated key depends only on how far apart their positions are.
"""

from __future__ import annotations

import torch


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The fixed sinusoidal position encodings of "Attention Is All You Need" (Vaswani et al., 2017).

    For position p (0-based) and pair i (0 <= i < dim / 2), with angle = p / base ** (2 * i / dim):
        PE[p, 2 * i] = sin(angle)        (even features)
        PE[p, 2 * i + 1] = cos(angle)    (odd features: sin and cos interleaved, not two halves)

    Args:
        num_positions: how many positions (rows); 0 gives an empty (0, dim) tensor.
        dim: the model width (columns), a positive even number.
        base: 10000 in the paper.
        dtype: the dtype of the result (float32 or float64).

    Returns:
        A tensor of shape (num_positions, dim) and ``dtype``, on the CPU, not requiring grad. Values are
        compared within 1e-5, so computing the angles in float32 is fine for the positions the grader uses
        (below 100).

    Raises:
        ValueError: if ``dim`` is odd or not positive, or ``num_positions`` is negative.
    """
    raise NotImplementedError


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0,
               interleaved: bool = False) -> torch.Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021): rotate each pair of features of each position.

    The last dimension D of ``x`` is split into D / 2 pairs. Pair i (0 <= i < D / 2) at position p is rotated
    counter-clockwise by the angle p * theta_i, with theta_i = base ** (-2 * i / D):
        out_a = a * cos(angle) - b * sin(angle)
        out_b = a * sin(angle) + b * cos(angle)
    where (a, b) are the pair's two features:
        - ``interleaved=False`` (the default; GPT-NeoX and Hugging Face Llama): a = x[..., i] and
          b = x[..., i + D / 2], the two halves of the vector ("rotate_half").
        - ``interleaved=True`` (the RoFormer paper; Meta's Llama with complex numbers): a = x[..., 2 * i] and
          b = x[..., 2 * i + 1], neighbours.
    Each output feature stays where its input feature was.

    Args:
        x: shape (..., T, D): any leading dims (for example (B, H, T, D)), positions along dim -2, D even.
        positions: optional 1-D integer tensor of length T, the position of each of the T rows (for example
            ``torch.arange(start, start + T)`` when decoding with a cache); ``None`` means 0, 1, ..., T - 1.
        base: 10000 in the paper (Llama 3 uses 500000).
        interleaved: which features form a pair, as above.

    Returns:
        A new tensor of x's shape and dtype (float32 in, float32 out); ``x`` is not modified. Gradients flow
        back into ``x``. Values are compared within 1e-5 for positions below 100 (float32 angles are fine).

    Raises:
        ValueError: if D is odd.
    """
    raise NotImplementedError
