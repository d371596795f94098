"""Decoding strategies for language models: top-k and top-p (nucleus) filtering, temperature sampling with
a generator, and beam search.

Logits have shape (..., V) (V = vocabulary size). The filters keep the logits of the tokens that may still be
drawn and set every other one to ``-inf`` (so that softmax gives them probability 0). The grader checks the
edge cases exactly (ties, k = 1, p = 1, temperature 0), the sampled frequencies statistically (thousands of
draws), and beam search against an exhaustive search on a toy model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (last dim); set the others to ``-inf``.

    Ties: every logit equal to the k-th largest value is kept too (so more than k may stay, as in Hugging
    Face's TopKLogitsWarper). ``k >= V`` keeps everything. Returns a new tensor of logits' shape and dtype;
    ``logits`` is not modified.

    Raises:
        ValueError: if k < 1.
    """
    raise NotImplementedError


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the most probable tokens of each row until their probability reaches p.

    With probs = softmax(logits, dim=-1), token i is kept when the total probability of the tokens strictly
    more probable than i is less than p. So the most probable token is always kept, the kept set is the
    smallest one whose probability reaches p, and tied tokens are kept or removed together. ``p == 1.0``
    keeps every token (return the logits unchanged, whatever a cumulative sum rounds to). Removed tokens'
    logits become ``-inf``; kept ones are unchanged. A new tensor; ``logits`` is not modified.

    Raises:
        ValueError: unless 0 < p <= 1.
    """
    raise NotImplementedError


def sample(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None) -> torch.Tensor:
    """Draw one token per row of ``logits`` (B, V); returns (B,) int64 token ids.

    ``temperature == 0``: greedy, the argmax of each row (ties: the lowest index, as ``torch.argmax``), no
    randomness. Otherwise divide the logits by ``temperature``, then apply ``top_k_filter`` (if top_k is not
    None), then ``top_p_filter`` (if top_p is not None), and draw from the softmax of the result. All
    randomness comes from ``generator`` (e.g. ``torch.multinomial(..., generator=generator)``): the same seed
    gives the same tokens, and the global RNG (``torch.manual_seed``'s) is never used.

    Raises:
        ValueError: if temperature < 0.
    """
    raise NotImplementedError


def beam_search(step_fn: Callable[[torch.Tensor], torch.Tensor], bos: int, beam_width: int,
                max_new_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search for the sequences of ``max_new_tokens`` tokens with the highest total log-probability.

    ``step_fn(sequences)`` takes (n, t) int64 sequences (each starting with ``bos``) and returns (n, V)
    next-token log-probabilities. Start from the single sequence ``[bos]`` with score 0. At each step, extend
    every beam by every token (score = beam score + the token's log-probability) and keep the
    ``beam_width`` best of all n * V candidates (fewer only if there are fewer candidates). Equal scores:
    the candidate with the lower (beam index, token id) pair first, beams in the current order (as
    ``torch.sort(descending=True, stable=True)`` over the flattened (beam, token) scores orders them). No
    end-of-sequence token, no length penalty.

    Returns:
        (sequences, scores): sequences (beam_width, max_new_tokens) int64 without ``bos``, best first (fewer
        rows if fewer candidates exist); scores (same rows,) in step_fn's dtype, the total log-probability
        of each.

    Raises:
        ValueError: if beam_width < 1 or max_new_tokens < 1.
    """
    raise NotImplementedError
