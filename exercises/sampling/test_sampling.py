"""Grading tests for the sampling exercise.

The filters are checked on worked examples (ties, k = 1, p = 1, a token that crosses p) and against the
reference; sample is checked exactly where it must be deterministic (temperature 0, k = 1, never a filtered
token) and statistically elsewhere: 40,000 draws, frequencies within 0.015 of the probabilities (more than 5
standard deviations), so any correct way of drawing passes; beam_search is checked against greedy decoding
(beam_width 1), an exhaustive search (a beam wide enough to be exact) and the reference."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
NEG = float("-inf")
DRAWS = 40_000
FREQ_TOL = 0.015


def _logits(seed: int, *shape: int, scale: float = 2.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=f64) * scale


# --- top_k_filter -----------------------------------------------------------------------------------------

@pytest.mark.task("top_k_filter")
def test_top_k_worked_example(impl) -> None:
    logits = torch.tensor([3.0, 1.0, 2.0, 0.0], dtype=f64)
    observe("top_k_filter([3, 1, 2, 0], k=2)", impl.top_k_filter(logits, 2),
            expect=torch.tensor([3.0, NEG, 2.0, NEG], dtype=f64), exact=True,
            explain="the 2 largest logits (3 and 2) stay where they are, unchanged; every other one becomes -inf")


@pytest.mark.task("top_k_filter")
def test_top_k_keeps_ties_at_the_boundary(impl) -> None:
    logits = torch.tensor([2.0, 1.0, 1.0, 0.0], dtype=f64)
    observe("top_k_filter([2, 1, 1, 0], k=2)", impl.top_k_filter(logits, 2),
            expect=torch.tensor([2.0, 1.0, 1.0, NEG], dtype=f64), exact=True,
            explain="every logit equal to the k-th largest (1) is kept, so both tied 1s stay: the filter removes "
                    "only logits below the k-th largest value")


@pytest.mark.task("top_k_filter")
def test_top_k_edges(impl) -> None:
    logits = _logits(1, 3, 6)
    observe("top_k_filter(k=1) on 3 rows of 6 logits", impl.top_k_filter(logits, 1), exact=True,
            explain="k=1 keeps only each row's largest logit")
    observe("top_k_filter(k=6) on 3 rows of 6 logits", impl.top_k_filter(logits, 6), expect=logits, exact=True,
            explain="k = V keeps every logit")
    observe("top_k_filter(k=50) on 3 rows of 6 logits", impl.top_k_filter(logits, 50), expect=logits, exact=True,
            explain="k > V keeps every logit (no error)")
    with expect_raises("top_k_filter(logits, 0)", ValueError, explain="k < 1 raises ValueError"):
        impl.top_k_filter(logits, 0)


@pytest.mark.task("top_k_filter")
@pytest.mark.parametrize("shape,k", [((4, 10), 3), ((2, 3, 7), 5), ((9,), 4)], ids=["4x10-k3", "2x3x7-k5", "9-k4"])
def test_top_k_matches_reference(impl, shape: tuple[int, ...], k: int) -> None:
    logits = _logits(2, *shape)
    observe(f"top_k_filter on logits of shape {shape}, k={k}", impl.top_k_filter(logits, k), exact=True,
            explain="per row (the last dim): the k largest logits unchanged, the rest -inf")
    observe("logits after top_k_filter", logits, expect=_logits(2, *shape), exact=True,
            explain="top_k_filter returns a new tensor and leaves its input as it was")


# --- top_p_filter -----------------------------------------------------------------------------------------

PROBS = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=f64)


@pytest.mark.task("top_p_filter")
def test_top_p_keeps_the_token_that_crosses_p(impl) -> None:
    logits = PROBS.log()
    observe("top_p_filter(p=0.75) with probabilities [0.5, 0.3, 0.15, 0.05]", impl.top_p_filter(logits, 0.75),
            expect=torch.cat((logits[:2], torch.tensor([NEG, NEG], dtype=f64))), exact=True,
            explain="keep tokens until the kept probability reaches p: 0.5 is not enough, 0.5 + 0.3 = 0.8 is, so "
                    "the token that crosses p (0.3) is kept and the rest go. A token stays when the mass of the "
                    "tokens more probable than it is below p")


@pytest.mark.task("top_p_filter")
def test_top_p_always_keeps_the_top_token(impl) -> None:
    logits = PROBS.log()
    observe("top_p_filter(p=0.1) with probabilities [0.5, 0.3, 0.15, 0.05]", impl.top_p_filter(logits, 0.1),
            expect=torch.cat((logits[:1], torch.tensor([NEG, NEG, NEG], dtype=f64))), exact=True,
            explain="the most probable token is always kept (nothing is more probable than it), even when its "
                    "probability alone exceeds p")


@pytest.mark.task("top_p_filter")
def test_top_p_one_keeps_everything(impl) -> None:
    logits = torch.tensor([[0.0, -30.0, -80.0, -700.0], [5.0, 5.0, -50.0, 1.0]], dtype=f64)
    observe("top_p_filter(p=1.0) on rows with probabilities down to 1e-300", impl.top_p_filter(logits, 1.0),
            expect=logits, exact=True,
            explain="p = 1 keeps every token, even those whose probability is too small to change a cumulative "
                    "sum that has already rounded to 1")


@pytest.mark.task("top_p_filter")
def test_top_p_unsorted_vocabulary(impl) -> None:
    logits = PROBS[[2, 0, 3, 1]].log()  # probabilities [0.15, 0.5, 0.05, 0.3]
    observe("top_p_filter(p=0.75) with probabilities [0.15, 0.5, 0.05, 0.3]", impl.top_p_filter(logits, 0.75),
            expect=torch.tensor([NEG, math.log(0.5), NEG, math.log(0.3)], dtype=f64), exact=True,
            explain="the decision is made in probability order but applied to each token where it is: after "
                    "sorting, map the kept set back to the original positions (scatter with the sort's indices)")


@pytest.mark.task("top_p_filter")
def test_top_p_ties_stay_together(impl) -> None:
    logits = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=f64)  # probabilities 0.366, 0.134, 0.366, 0.134
    observe("top_p_filter(p=0.3) on logits [1, 0, 1, 0] (two tied top tokens of probability 0.366)",
            impl.top_p_filter(logits, 0.3), expect=torch.tensor([1.0, NEG, 1.0, NEG], dtype=f64), exact=True,
            explain="tied tokens are kept or removed together: no token is strictly more probable than either "
                    "1, so both stay (a sort and cumulative sum alone would keep whichever tie it sorted first)")


@pytest.mark.task("top_p_filter")
@pytest.mark.parametrize("shape,p", [((4, 10), 0.9), ((2, 3, 7), 0.5), ((6,), 0.65)],
                         ids=["4x10-p0.9", "2x3x7-p0.5", "6-p0.65"])
def test_top_p_matches_reference(impl, shape: tuple[int, ...], p: float) -> None:
    logits = _logits(3, *shape)
    observe(f"top_p_filter on logits of shape {shape}, p={p}", impl.top_p_filter(logits, p), exact=True,
            explain="per row: the most probable tokens until their probability reaches p, unchanged; the rest -inf")
    observe("logits after top_p_filter", logits, expect=_logits(3, *shape), exact=True,
            explain="top_p_filter returns a new tensor and leaves its input as it was")


@pytest.mark.task("top_p_filter")
@pytest.mark.parametrize("p", [0.0, 1.5], ids=["zero", "above_one"])
def test_top_p_rejects_bad_p(impl, p: float) -> None:
    with expect_raises(f"top_p_filter(logits, {p})", ValueError, explain="p must be in (0, 1]: ValueError"):
        impl.top_p_filter(_logits(4, 5), p)


# --- sample -----------------------------------------------------------------------------------------------

def _frequencies(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    return torch.bincount(tokens.flatten(), minlength=vocab).to(f64) / tokens.numel()


def _draws(impl, logits_row: torch.Tensor, seed: int, **kwargs) -> torch.Tensor:
    return impl.sample(logits_row.expand(DRAWS, -1), torch.Generator().manual_seed(seed), **kwargs)


@pytest.mark.task("sample")
def test_sample_temperature_zero_is_greedy(impl) -> None:
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0], [0.0, -1.0, 2.0, 2.0]], dtype=f64)
    observe("sample(temperature=0) on rows [1, 3, 3, 0] and [0, -1, 2, 2]",
            impl.sample(logits, torch.Generator().manual_seed(0), temperature=0.0),
            expect=torch.tensor([1, 2]), explain="temperature 0 is greedy: the argmax of each row, ties to the lowest "
                                                 "index (torch.argmax), int64")


@pytest.mark.task("sample")
def test_sample_top_k_one_is_greedy(impl) -> None:
    logits = _logits(5, 50, 8)
    observe("sample(top_k=1) on 50 rows of 8 logits", impl.sample(logits, torch.Generator().manual_seed(1), top_k=1),
            expect=logits.argmax(-1), explain="with top_k=1 only the largest logit survives the filter, so every "
                                              "draw is the argmax")


@pytest.mark.task("sample")
def test_sample_frequencies(impl) -> None:
    logits = torch.tensor([1.0, 0.0, 2.0, -1.0, 0.5], dtype=f64)
    tokens = _draws(impl, logits, seed=2, temperature=0.7)
    observe(f"shape and dtype of {DRAWS} draws", (tuple(tokens.shape), str(tokens.dtype)),
            expect=((DRAWS,), "torch.int64"), explain="one int64 token id per row")
    observe(f"frequencies of {DRAWS} draws with temperature 0.7", _frequencies(tokens, 5),
            expect=(logits / 0.7).softmax(-1), atol=FREQ_TOL,
            explain="tokens are drawn with probabilities softmax(logits / temperature)")


@pytest.mark.task("sample")
def test_sample_top_k_frequencies(impl) -> None:
    logits = torch.tensor([1.0, 0.0, 2.0, -1.0, 0.5, 1.5], dtype=f64)
    frequencies = _frequencies(_draws(impl, logits, seed=3, top_k=3), 6)
    observe(f"how often {DRAWS} draws with top_k=3 gave a token outside the top 3", frequencies[[1, 3, 4]],
            expect=torch.zeros(3, dtype=f64), exact=True, explain="a filtered token (logit -inf) is never drawn")
    expected = torch.zeros(6, dtype=f64)
    expected[[0, 2, 5]] = logits[[0, 2, 5]].softmax(-1)
    observe(f"frequencies of {DRAWS} draws with top_k=3", frequencies, expect=expected, atol=FREQ_TOL,
            explain="the 3 kept tokens share the probability in proportion to exp(logit): softmax over the kept "
                    "ones only")


@pytest.mark.task("sample")
def test_sample_temperature_before_top_p(impl) -> None:
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0], dtype=f64)
    frequencies = _frequencies(_draws(impl, logits, seed=4, temperature=2.0, top_p=0.6), 4)
    tempered = (logits / 2.0).softmax(-1)  # [0.455, 0.276, 0.167, 0.102]: top_p=0.6 keeps the first two
    expected = torch.cat((tempered[:2] / tempered[:2].sum(), torch.zeros(2, dtype=f64)))
    observe(f"frequencies of {DRAWS} draws with temperature 2 and top_p=0.6", frequencies, expect=expected,
            atol=FREQ_TOL,
            explain="first divide by the temperature, then filter: at temperature 2 the probabilities are "
                    "[0.455, 0.276, 0.167, 0.102], so top_p=0.6 keeps two tokens (at temperature 1 it would keep "
                    "one)")


@pytest.mark.task("sample")
def test_sample_top_k_then_top_p(impl) -> None:
    logits = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=f64).log()
    frequencies = _frequencies(_draws(impl, logits, seed=5, top_k=2, top_p=0.5), 4)
    observe(f"frequencies of {DRAWS} draws with top_k=2 and top_p=0.5 (probabilities [0.4, 0.3, 0.2, 0.1])",
            frequencies, expect=torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=f64), atol=FREQ_TOL,
            explain="top_k first, then top_p on what is left: after top_k=2 the two tokens have probabilities "
                    "[0.571, 0.429], so top_p=0.5 keeps only the first (top_p before top_k would keep two)")


@pytest.mark.task("sample")
def test_sample_uses_the_generator(impl) -> None:
    logits = _logits(6, 200, 10)
    first = impl.sample(logits, torch.Generator().manual_seed(11))
    again = impl.sample(logits, torch.Generator().manual_seed(11))
    other = impl.sample(logits, torch.Generator().manual_seed(12))
    observe("two calls of sample with generators seeded 11 give the same tokens", torch.equal(first, again),
            expect=True, explain="all the randomness comes from the generator passed in")
    observe("generators seeded 11 and 12 give different tokens (200 draws)", not torch.equal(first, other),
            expect=True, explain="all the randomness comes from the generator passed in")
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    impl.sample(logits, torch.Generator().manual_seed(13), temperature=0.5, top_k=5, top_p=0.9)
    observe("the global RNG's next numbers after sample (torch.manual_seed(123) before)", torch.rand(4),
            expect=expected, exact=True,
            explain="sample never draws from the global RNG: pass generator=generator to torch.multinomial")


@pytest.mark.task("sample")
def test_sample_rejects_negative_temperature(impl) -> None:
    with expect_raises("sample(logits, generator, temperature=-1.0)", ValueError,
                       explain="a negative temperature raises ValueError"):
        impl.sample(_logits(7, 2, 4), torch.Generator().manual_seed(0), temperature=-1.0)


# --- beam_search ------------------------------------------------------------------------------------------

def _toy_model(seed: int, vocab: int, max_len: int = 8):
    """A toy language model whose next-token log-probabilities depend on the last token and the length."""
    tables = torch.randn(max_len, vocab, vocab, generator=torch.Generator().manual_seed(seed),
                         dtype=f64).mul(1.5).log_softmax(-1)

    def step_fn(sequences: torch.Tensor) -> torch.Tensor:
        return tables[sequences.size(1) - 1, sequences[:, -1]]

    return step_fn


def _score(step_fn, bos: int, sequence: list[int]) -> float:
    prefix, total = [bos], 0.0
    for token in sequence:
        total += float(step_fn(torch.tensor([prefix]))[0, token])
        prefix.append(token)
    return total


@pytest.mark.task("beam_search")
def test_beam_search_rejects_bad_sizes(impl) -> None:
    with expect_raises("beam_search(step_fn, 0, beam_width=0, max_new_tokens=3)", ValueError,
                       explain="beam_width < 1 raises ValueError"):
        impl.beam_search(_toy_model(0, 4), 0, 0, 3)


@pytest.mark.task("beam_search")
def test_beam_search_first_step_from_one_beam(impl) -> None:
    step_fn = _toy_model(20, 6)
    first = step_fn(torch.tensor([[0]]))[0]
    top = first.sort(descending=True, stable=True)
    sequences, scores = impl.beam_search(step_fn, 0, 3, 1)
    observe("beam_search with beam_width 3 and 1 new token: the sequences", sequences,
            expect=top.indices[:3, None], explain="the search starts from the single beam [bos]: one step gives the "
                                                  "3 most probable first tokens, all different (beam_width copies of "
                                                  "[bos] would fill the beam with duplicates)")
    observe("beam_search with beam_width 3 and 1 new token: the scores", scores, expect=top.values[:3],
            explain="each score is the log-probability of its token")


@pytest.mark.task("beam_search")
def test_beam_search_width_one_is_greedy(impl) -> None:
    step_fn = _toy_model(21, 5)
    greedy, prefix = [], [2]
    for _ in range(6):
        token = int(step_fn(torch.tensor([prefix]))[0].argmax())
        greedy.append(token)
        prefix.append(token)
    sequences, scores = impl.beam_search(step_fn, 2, 1, 6)
    observe("beam_search with beam_width 1, 6 new tokens", sequences, expect=torch.tensor([greedy]),
            explain="with one beam, beam search is greedy decoding: the most probable next token at each step")
    observe("score of the beam_width 1 sequence", scores, expect=torch.tensor([_score(step_fn, 2, greedy)], dtype=f64),
            explain="the score is the sum of the log-probabilities of the chosen tokens")


@pytest.mark.task("beam_search")
def test_beam_search_scores_are_the_sequences_log_probabilities(impl) -> None:
    step_fn = _toy_model(23, 7)
    sequences, scores = impl.beam_search(step_fn, 1, 4, 5)
    recomputed = torch.tensor([_score(step_fn, 1, row) for row in sequences.tolist()], dtype=f64)
    observe("each returned score minus the log-probability of its returned sequence (beam_width 4, 5 tokens)",
            scores - recomputed, expect=torch.zeros(4, dtype=f64),
            explain="when beams are reordered, each keeps its own history: index the previous sequences with the "
                    "beam each winning candidate came from (candidate // V) and append its token (candidate % V)")


@pytest.mark.task("beam_search")
def test_beam_search_wide_beam_is_exhaustive(impl) -> None:
    step_fn = _toy_model(22, 3)
    everything = [list(s) for s in itertools.product(range(3), repeat=3)]
    totals = torch.tensor([_score(step_fn, 0, s) for s in everything], dtype=f64)
    best = totals.sort(descending=True, stable=True)
    sequences, scores = impl.beam_search(step_fn, 0, 9, 3)
    observe("beam_search with beam_width 9 over 3 tokens for 3 steps: the sequences", sequences,
            expect=torch.tensor([everything[i] for i in best.indices[:9]]),
            explain="candidates are ranked by their total log-probability (the beam's score plus the token's), and "
                    "a beam of V^(steps - 1) = 9 never drops a prefix, so it finds the 9 best of all 27 sequences, "
                    "best first")
    observe("beam_search with beam_width 9: the scores", scores, expect=best.values[:9],
            explain="the total log-probability of each sequence, in descending order")


@pytest.mark.task("beam_search")
def test_beam_search_ties(impl) -> None:
    def uniform(sequences: torch.Tensor) -> torch.Tensor:
        return torch.full((sequences.size(0), 3), -math.log(3), dtype=f64)

    sequences, _ = impl.beam_search(uniform, 0, 4, 2)
    observe("beam_search with every log-probability equal (3 tokens, beam_width 4, 2 steps)", sequences,
            expect=torch.tensor([[0, 0], [0, 1], [0, 2], [1, 0]]),
            explain="equal scores go to the lower (beam index, token id) pair: a stable descending sort of the "
                    "flattened (beam, token) scores")


@pytest.mark.task("beam_search")
@pytest.mark.parametrize("vocab,width,steps,seed", [(5, 3, 4, 24), (8, 2, 6, 25), (4, 20, 3, 26)],
                         ids=["V5-W3-L4", "V8-W2-L6", "V4-W20-L3"])
def test_beam_search_matches_reference(impl, vocab: int, width: int, steps: int, seed: int) -> None:
    step_fn = _toy_model(seed, vocab)
    sequences, scores = impl.beam_search(step_fn, 0, width, steps)
    observe(f"beam_search sequences (V={vocab}, beam_width {width}, {steps} tokens)", sequences,
            explain="the beam_width best candidates of all beams x tokens at every step, best first")
    observe(f"beam_search scores (V={vocab}, beam_width {width}, {steps} tokens)", scores,
            explain="the total log-probability of each returned sequence")
