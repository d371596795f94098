"""Grading tests for the sequence_model exercise."""

import pytest
import torch
from torch import nn

from quiz.grading.scenario import observe

VOCAB, EMBED, HIDDEN, CLASSES = 20, 5, 6, 3

# (num_layers, bidirectional)
CONFIGS = [(1, False), (2, False), (1, True), (2, True)]
CONFIG_IDS = ["1-layer", "2-layer", "1-layer-bidirectional", "2-layer-bidirectional"]

CONTRACT = (
    "row i is fc applied to the top layer's final state after sequence i's last real token (packed with "
    "pack_padded_sequence(..., batch_first=True, enforce_sorted=False)); if bidirectional, the top layer's "
    "forward state, then its backward state"
)


def _describe(num_layers: int, bidirectional: bool) -> str:
    return f"{num_layers}-layer{' bidirectional' if bidirectional else ''} LSTMClassifier"


def _build(impl, num_layers: int = 1, bidirectional: bool = False, padding_idx: int = 0,
           num_classes: int = CLASSES) -> nn.Module:
    torch.manual_seed(0)
    return impl.LSTMClassifier(
        VOCAB,
        EMBED,
        HIDDEN,
        num_classes,
        num_layers=num_layers,
        bidirectional=bidirectional,
        padding_idx=padding_idx,
    )


def _model(impl, seed: int, **config) -> nn.Module:
    """A model whose weights are drawn from ``seed`` by state_dict name: the same in every correct model."""
    model = _build(impl, **config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in sorted(model.state_dict().items()):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
    return model.eval()


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
def test_state_dict_matches_the_specification(impl, num_layers, bidirectional):
    shapes = {k: tuple(v.shape) for k, v in _build(impl, num_layers, bidirectional).state_dict().items()}
    observe(f"state_dict key shapes of a {_describe(num_layers, bidirectional)} (vocab {VOCAB}, embed {EMBED}, "
            f"hidden {HIDDEN}, {CLASSES} classes)", shapes,
            explain="exactly self.embedding, self.lstm (num_layers, bidirectional, batch_first) and self.fc = "
                    "nn.Linear(hidden_size * D, num_classes), D = 2 if bidirectional else 1")


@pytest.mark.task("LSTMClassifier")
def test_embedding_uses_padding_idx(impl):
    model = _build(impl, padding_idx=3)
    embedding = getattr(model, "embedding", None)
    explain = "LSTMClassifier(..., padding_idx=3) builds nn.Embedding(..., padding_idx=3)"
    observe("type of model.embedding", type(embedding).__name__, expect="Embedding", explain=explain)
    observe("model.embedding.padding_idx with padding_idx=3", getattr(embedding, "padding_idx", None), expect=3,
            explain=explain)
    weight = getattr(embedding, "weight", None)
    observe("nonzero entries in row 3 (the padding row) of a new embedding.weight",
            int(torch.count_nonzero(weight[3])) if isinstance(weight, torch.Tensor) else None, expect=0,
            explain="nn.Embedding(..., padding_idx=3) starts its padding row at zero")


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_extra_padding_does_not_change_outputs(impl, num_layers, bidirectional):
    model = _model(impl, seed=2, num_layers=num_layers, bidirectional=bidirectional)
    tokens, lengths = _batch([4, 2, 6, 1], seed=2)
    wider = nn.functional.pad(tokens, (0, 4), value=0)  # four more padding columns
    narrow_logits = _run(model, tokens, lengths)
    wide_logits = _run(model, wider, lengths)
    observe(f"{_describe(num_layers, bidirectional)}: change in the logits when lengths [4, 2, 6, 1] are padded "
            "to 10 instead of 6", wide_logits - narrow_logits, expect=torch.zeros(4, CLASSES), atol=1e-5,
            explain="padding must not change any output: pack the batch so the LSTM stops at each real end")


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_batch_order_does_not_matter(impl, num_layers, bidirectional):
    model = _model(impl, seed=3, num_layers=num_layers, bidirectional=bidirectional)
    tokens, lengths = _batch([5, 2, 7, 3, 1], seed=3)
    logits = _run(model, tokens, lengths)
    order = torch.tensor([2, 0, 4, 1, 3])
    observe(f"{_describe(num_layers, bidirectional)}: logits of the batch shuffled by [2, 0, 4, 1, 3] minus the "
            "unshuffled logits in that order", _run(model, tokens[order], lengths[order]) - logits[order],
            expect=torch.zeros(5, CLASSES), atol=1e-5,
            explain="row i of the output belongs to row i of the batch, in the batch's own order: with "
                    "enforce_sorted=False h_n comes back in that order; if you sort by hand, undo it")
    for row in range(len(lengths)):
        length = int(lengths[row])
        alone = _run(model, tokens[row: row + 1, :length], lengths[row: row + 1])
        observe(f"{_describe(num_layers, bidirectional)}: logits of sequence {row} (length {length}) alone minus "
                "its logits inside the padded batch", alone - logits[row: row + 1],
                expect=torch.zeros(1, CLASSES), atol=1e-5,
                explain="each output depends only on its own sequence's real tokens")


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_features_given_to_fc(impl, num_layers, bidirectional):
    """With fc set to the identity, the logits are the features fc receives, one direction per half."""
    directions = 2 if bidirectional else 1
    model = _model(impl, seed=7, num_layers=num_layers, bidirectional=bidirectional,
                   num_classes=HIDDEN * directions)
    with torch.no_grad():
        model.fc.weight.copy_(torch.eye(HIDDEN * directions))
        model.fc.bias.zero_()
    tokens, lengths = _batch([3, 7, 1, 5], seed=7)
    features = _run(model, tokens, lengths)
    observe(f"{_describe(num_layers, bidirectional)} with fc = identity: shape of the features fc receives",
            tuple(features.shape), explain=f"(B, hidden_size * D): ({len(lengths)}, {HIDDEN * directions})")
    observe(f"{_describe(num_layers, bidirectional)} with fc = identity: the first {HIDDEN} features fc receives "
            "(lengths [3, 7, 1, 5])", features[:, :HIDDEN],
            explain="the top layer's forward-direction state after each sequence's last real token ("
                    + ("h_n[-2]" if bidirectional else "h_n[-1]") + ")")
    if bidirectional:
        observe(f"{_describe(num_layers, bidirectional)} with fc = identity: the last {HIDDEN} features fc receives "
                "(lengths [3, 7, 1, 5])", features[:, HIDDEN:],
                explain="the top layer's backward-direction state, after it read each sequence back to its first "
                        "token (h_n[-1]), concatenated after the forward one")


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("num_layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_outputs_match_reference(impl, num_layers, bidirectional):
    model = _model(impl, seed=num_layers, num_layers=num_layers, bidirectional=bidirectional)
    tokens, lengths = _batch([3, 7, 1, 5, 7, 2], seed=1)
    observe(f"{_describe(num_layers, bidirectional)}: logits for unsorted lengths {lengths.tolist()}",
            _run(model, tokens, lengths), explain=f"float32 logits of shape (6, {CLASSES}): {CONTRACT}")


@pytest.mark.task("LSTMClassifier")
def test_padding_idx_other_than_zero(impl):
    model = _model(impl, seed=8, num_layers=1, bidirectional=True, padding_idx=3)
    tokens, lengths = _batch([2, 5, 4], seed=8, padding_idx=3)
    observe("1-layer bidirectional LSTMClassifier with padding_idx=3: logits for lengths [2, 5, 4]",
            _run(model, tokens, lengths), explain=CONTRACT)


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize("width", [4, 9])
def test_batch_of_one(impl, width):
    model = _model(impl, seed=4, num_layers=2, bidirectional=True)
    tokens, lengths = _batch([4], seed=4, width=width)
    observe(f"2-layer bidirectional LSTMClassifier: logits for one sequence of length 4 padded to {width}",
            _run(model, tokens, lengths),
            explain=f"shape (1, {CLASSES}): keep the batch dimension (do not squeeze it away); {CONTRACT}")


@pytest.mark.task("LSTMClassifier")
@pytest.mark.parametrize(("lengths", "width"), [([1, 1, 1], 1), ([1, 1, 1], 5), ([1, 6, 1, 3], 6)],
                         ids=["three-of-length-1", "three-of-length-1-padded-to-5", "mixed"])
def test_sequences_of_length_one(impl, lengths, width):
    model = _model(impl, seed=5, num_layers=2, bidirectional=True)
    tokens, lengths_tensor = _batch(lengths, seed=5, width=width)
    observe(f"2-layer bidirectional LSTMClassifier: logits for lengths {lengths} padded to {width}",
            _run(model, tokens, lengths_tensor), explain=CONTRACT)


@pytest.mark.task("LSTMClassifier")
def test_inputs_not_modified(impl):
    model = _model(impl, seed=6, num_layers=1, bidirectional=False)
    tokens, lengths = _batch([3, 5, 2], seed=6)
    with torch.no_grad():
        model(tokens, lengths)
    explain = "forward must not modify tokens or lengths in place: sort copies, never the caller's tensors"
    observe("tokens after forward", tokens, explain=explain)
    observe("lengths after forward", lengths, explain=explain)
