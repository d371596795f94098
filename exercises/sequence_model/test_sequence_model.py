"""Grading tests for the sequence_model exercise."""

import pytest
import torch
from torch import nn

VOCAB, EMBED, HIDDEN, CLASSES = 20, 5, 6, 3

# (num_layers, bidirectional)
CONFIGS = [(1, False), (2, False), (1, True), (2, True)]
CONFIG_IDS = ["1-layer", "2-layer", "1-layer-bidirectional", "2-layer-bidirectional"]

HINT = (
    "pack the embedded batch with pack_padded_sequence(..., batch_first=True, enforce_sorted=False) and "
    "classify from h_n of the top layer (h_n[-1]; if bidirectional, torch.cat([h_n[-2], h_n[-1]], dim=1))"
)


def _build(module, num_layers: int = 1, bidirectional: bool = False, padding_idx: int = 0) -> nn.Module:
    torch.manual_seed(0)
    return module.LSTMClassifier(
        VOCAB,
        EMBED,
        HIDDEN,
        CLASSES,
        num_layers=num_layers,
        bidirectional=bidirectional,
        padding_idx=padding_idx,
    )


def _twin(submission, reference, seed: int, **config) -> tuple[nn.Module, nn.Module]:
    """The reference model with random weights, and the submission's model with those weights loaded."""
    expected = _build(reference, **config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in expected.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model = _build(submission, **config)
    try:
        model.load_state_dict(expected.state_dict(), strict=True)
    except RuntimeError as error:
        pytest.fail(
            f"the reference LSTMClassifier's state_dict does not load into yours; check the attribute names "
            f"(embedding, lstm, fc) and sizes.\n{error}",
            pytrace=False,
        )
    return model.eval(), expected.eval()


def _batch(lengths: list[int], seed: int, width: int | None = None, padding_idx: int = 0):
    """Random real tokens (never padding_idx) followed by padding, and the lengths as an int64 tensor."""
    generator = torch.Generator().manual_seed(seed)
    width = width or max(lengths)
    tokens = torch.randint(0, VOCAB - 1, (len(lengths), width), generator=generator)
    tokens[tokens >= padding_idx] += 1  # skip the padding index
    for row, length in enumerate(lengths):
        tokens[row, length:] = padding_idx
    return tokens, torch.tensor(lengths, dtype=torch.int64)


def _run(model: nn.Module, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(tokens.clone(), lengths.clone())


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_state_dict_matches_the_specification(submission, reference, num_layers, bidirectional):
    shapes = {
        k: tuple(v.shape) for k, v in _build(submission, num_layers, bidirectional).state_dict().items()
    }
    expected = {
        k: tuple(v.shape) for k, v in _build(reference, num_layers, bidirectional).state_dict().items()
    }
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    assert not missing and not unexpected, (
        f"num_layers={num_layers}, bidirectional={bidirectional}: the state_dict keys differ from the "
        f"specification: missing {missing}, unexpected {unexpected}"
    )
    for name, shape in expected.items():
        assert shapes[name] == shape, (
            f"num_layers={num_layers}, bidirectional={bidirectional}: {name} has shape {shapes[name]}, "
            f"expected {shape} (fc takes hidden_size * 2 features when bidirectional)"
        )


@pytest.mark.task("LSTMClassifier")
def test_embedding_uses_padding_idx(submission):
    model = _build(submission, padding_idx=3)
    embedding = getattr(model, "embedding", None)
    assert isinstance(embedding, nn.Embedding), "self.embedding should be an nn.Embedding"
    assert embedding.padding_idx == 3, (
        f"LSTMClassifier(..., padding_idx=3) should build nn.Embedding(..., padding_idx=3); its padding_idx "
        f"is {embedding.padding_idx}"
    )
    assert torch.count_nonzero(embedding.weight[3]) == 0, (
        "the padding row of the embedding should start at zero"
    )


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_outputs_match_reference(submission, reference, num_layers, bidirectional):
    model, expected = _twin(
        submission, reference, seed=num_layers, num_layers=num_layers, bidirectional=bidirectional
    )
    tokens, lengths = _batch([3, 7, 1, 5, 7, 2], seed=1)
    logits = _run(model, tokens, lengths)
    assert logits.shape == (6, CLASSES), f"expected logits of shape (6, {CLASSES}), got {tuple(logits.shape)}"
    assert logits.dtype == torch.float32, f"expected float32 logits, got {logits.dtype}"
    torch.testing.assert_close(
        logits,
        _run(expected, tokens, lengths),
        msg=f"num_layers={num_layers}, bidirectional={bidirectional}, lengths {lengths.tolist()} (unsorted): "
        f"your logits differ from the reference's with the same weights: {HINT}",
    )


@pytest.mark.task("LSTMClassifier")
def test_padding_idx_other_than_zero(submission, reference):
    model, expected = _twin(submission, reference, seed=8, num_layers=1, bidirectional=True, padding_idx=3)
    tokens, lengths = _batch([2, 5, 4], seed=8, padding_idx=3)
    torch.testing.assert_close(
        _run(model, tokens, lengths),
        _run(expected, tokens, lengths),
        msg=f"with padding_idx=3 your logits differ from the reference's: {HINT}",
    )


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_extra_padding_does_not_change_outputs(submission, reference, num_layers, bidirectional):
    model, _ = _twin(submission, reference, seed=2, num_layers=num_layers, bidirectional=bidirectional)
    lengths = [4, 2, 6, 1]
    tokens, lengths_tensor = _batch(lengths, seed=2)
    wider = nn.functional.pad(tokens, (0, 4), value=0)  # four more padding columns
    torch.testing.assert_close(
        _run(model, wider, lengths_tensor),
        _run(model, tokens, lengths_tensor),
        msg="padding the same sequences to length 10 instead of 6 changed the outputs: the model must "
        f"ignore padding; {HINT}",
    )


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_batch_order_does_not_matter(submission, reference, num_layers, bidirectional):
    model, _ = _twin(submission, reference, seed=3, num_layers=num_layers, bidirectional=bidirectional)
    tokens, lengths = _batch([5, 2, 7, 3, 1], seed=3)
    logits = _run(model, tokens, lengths)
    order = torch.tensor([2, 0, 4, 1, 3])
    torch.testing.assert_close(
        _run(model, tokens[order], lengths[order]),
        logits[order],
        msg="shuffling the batch changed the per-sequence outputs (or returned them in another order): with "
        "enforce_sorted=False, h_n comes back in the batch's original order; if you sort by hand, undo it",
    )
    for row in range(len(lengths)):
        length = int(lengths[row])
        alone = _run(model, tokens[row : row + 1, :length], lengths[row : row + 1])
        torch.testing.assert_close(
            alone,
            logits[row : row + 1],
            msg=f"sequence {row} (length {length}) classified alone gives a different output than inside "
            "the padded batch: each output must depend only on its own real tokens",
        )


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize("width", [4, 9])
def test_batch_of_one(submission, reference, width):
    model, expected = _twin(submission, reference, seed=4, num_layers=2, bidirectional=True)
    tokens, lengths = _batch([4], seed=4, width=width)
    logits = _run(model, tokens, lengths)
    assert logits.shape == (1, CLASSES), (
        f"for a batch of one expected shape (1, {CLASSES}), got {tuple(logits.shape)}"
    )
    torch.testing.assert_close(
        logits,
        _run(expected, tokens, lengths),
        msg=f"a batch of one sequence of length 4 padded to {width}: your logits differ from the reference's "
        "(keep the batch dimension; do not squeeze it away)",
    )


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("lengths", "width"), [([1, 1, 1], 1), ([1, 1, 1], 5), ([1, 6, 1, 3], 6)])
def test_sequences_of_length_one(submission, reference, lengths, width):
    model, expected = _twin(submission, reference, seed=5, num_layers=2, bidirectional=True)
    tokens, lengths_tensor = _batch(lengths, seed=5, width=width)
    torch.testing.assert_close(
        _run(model, tokens, lengths_tensor),
        _run(expected, tokens, lengths_tensor),
        msg=f"lengths {lengths} padded to {width}: your logits differ from the reference's: {HINT}",
    )


@pytest.mark.task("LSTMClassifier")
def test_inputs_not_modified(submission, reference):
    model, _ = _twin(submission, reference, seed=6, num_layers=1, bidirectional=False)
    tokens, lengths = _batch([3, 5, 2], seed=6)
    tokens_before, lengths_before = tokens.clone(), lengths.clone()
    with torch.no_grad():
        model(tokens, lengths)
    assert torch.equal(tokens, tokens_before) and torch.equal(lengths, lengths_before), (
        "forward modified tokens or lengths in place: sort copies, never the caller's tensors"
    )
