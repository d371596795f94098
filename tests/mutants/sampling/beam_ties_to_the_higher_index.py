"""Reference solution: decoding strategies for language models: top-k and top-p (nucleus) filtering,
temperature sampling with a generator, and beam search."""

from __future__ import annotations

from collections.abc import Callable

import torch


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k >= logits.size(-1):
        return logits.clone()
    # The k-th largest value of each row; every logit below it goes, ties with it stay.
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if p == 1.0:
        return logits.clone()  # keep everything, whatever rounding says about a cumulative sum
    probs = logits.softmax(dim=-1)
    # For each token: the probability mass of the tokens strictly more probable than it. Sorting once gives
    # an exclusive cumulative sum; tied tokens take the smallest one (that of the first of their run), so
    # ties are kept or removed together.
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    exclusive = sorted_probs.cumsum(dim=-1) - sorted_probs
    first_of_run = torch.searchsorted(-sorted_probs.contiguous(), -sorted_probs.contiguous(), side="left")
    exclusive = exclusive.gather(-1, first_of_run)
    above = torch.empty_like(exclusive).scatter_(-1, order, exclusive)
    # A token stays while the mass before it is below p: the smallest set reaching p, the top token always.
    return logits.masked_fill(above >= p, float("-inf"))


def sample(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None) -> torch.Tensor:
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)  # greedy: no randomness, ties to the lowest index
    scaled = logits / temperature
    if top_k is not None:
        scaled = top_k_filter(scaled, top_k)
    if top_p is not None:
        scaled = top_p_filter(scaled, top_p)
    probs = scaled.softmax(dim=-1)
    # The caller's generator, never the global RNG: the same seed gives the same tokens.
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def beam_search(step_fn: Callable[[torch.Tensor], torch.Tensor], bos: int, beam_width: int,
                max_new_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    if beam_width < 1 or max_new_tokens < 1:
        raise ValueError("beam_width and max_new_tokens must be at least 1")
    # One beam to start with: beam_width copies of the same prefix would fill the beam with duplicates.
    beams = torch.tensor([[bos]], dtype=torch.long)
    scores = None
    for _ in range(max_new_tokens):
        log_probs = step_fn(beams)  # (n_beams, V)
        if scores is None:
            scores = torch.zeros(1, dtype=log_probs.dtype)
        vocab = log_probs.size(-1)
        candidates = (scores[:, None] + log_probs).flatten()  # index = beam * V + token
        # A stable sort keeps equal scores in (beam, token) order, so ties go to the lower pair.
        best = (candidates.numel() - 1 - candidates.flip(0).sort(descending=True, stable=True).indices)[:beam_width]
        beam_index, token = best // vocab, best % vocab
        beams = torch.cat((beams[beam_index], token[:, None]), dim=1)
        scores = candidates[best]
    return beams[:, 1:], scores
